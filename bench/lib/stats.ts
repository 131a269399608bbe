/** A latency distribution: nearest-rank percentiles; a value never observed is +Infinity and counted as unresolved. */
export interface Distribution {
  n: number;
  /** how many never happened within the run (their latency is unbounded) */
  unresolved: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? v : Math.round(v * 10) / 10);

export function summarize(values: readonly number[]): Distribution {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return {
    n: sorted.length,
    unresolved: sorted.filter((v) => v === Number.POSITIVE_INFINITY).length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length === 0 ? null : sorted[sorted.length - 1]!),
  };
}
