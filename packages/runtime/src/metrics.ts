import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  counter<L extends string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]): Histogram<L>;
}

/** Seconds buckets from 0.5 ms to 10 s: publish, batch and request latencies all fit. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * One registry per service (not prom-client's global one, so several services can share a
 * process in tests). Metric names follow audit_<component>_<what>_<unit>. Creating a metric twice
 * returns the first (components may be recreated on restart within one process).
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'audit_process_' });
  const existing = <M>(name: string) => registry.getSingleMetric(name) as M | undefined;
  return {
    registry,
    counter: (name, help, labelNames = []) => existing(name) ?? new Counter({ name, help, labelNames: [...labelNames], registers: [registry] }),
    gauge: (name, help, labelNames = []) => existing(name) ?? new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] }),
    histogram: (name, help, labelNames = [], buckets = LATENCY_BUCKETS) =>
      existing(name) ?? new Histogram({ name, help, labelNames: [...labelNames], buckets, registers: [registry] }),
  };
}
