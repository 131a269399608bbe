/**
 * An open-loop load at a steady rate (as services/interceptor/bench/steady-load.ts, whose reasons
 * hold here: request i is due at start + i / rate whatever the earlier ones are doing, and its
 * latency is charged from when it was due), with a request of the caller's making each time: a
 * unique id per request, so that each can be found again downstream.
 */
import http from 'node:http';
import { createHistogram } from 'node:perf_hooks';

export interface PacedRequest {
  path: string;
  headers: Record<string, string>;
}

export interface PacedResult {
  due: number;
  sent: number;
  /** answered with a 2xx */
  ok: number;
  /** answered otherwise, or failed */
  failed: number;
  /** requests per second actually sent over the run */
  achievedRate: number;
  /** HTTP latency from when each request was due, ms */
  http: { p50: number; p99: number; max: number };
}

export interface PacedLoad {
  /** resolves when every request has been answered (or failed) */
  done: Promise<PacedResult>;
  /** requests answered so far */
  answered(): number;
}

/**
 * `make(i)` builds request i; `onSent(i, at)` is told when it went out (performance.now() ms);
 * `onAnswer(i, status)` when its answer arrived.
 */
export function pacedLoad(
  base: string,
  rate: number,
  seconds: number,
  make: (i: number) => PacedRequest,
  hooks: { onSent?(i: number, at: number): void; onAnswer?(i: number, status: number): void } = {},
): PacedLoad {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const target = new URL(base);
  const histogram = createHistogram();
  const total = Math.round(rate * seconds);
  let sent = 0;
  let answered = 0;
  let ok = 0;
  const start = performance.now();
  let lastSentAt = start;
  const done = new Promise<PacedResult>((resolve) => {
    const finish = () => {
      if (++answered < total) return;
      agent.destroy();
      const ms = (p: number) => +(histogram.percentile(p) / 1000).toFixed(2);
      resolve({
        due: total,
        sent,
        ok,
        failed: total - ok,
        achievedRate: Math.round((sent * 1000) / Math.max(1, lastSentAt - start)),
        http: { p50: ms(50), p99: ms(99), max: +(histogram.max / 1000).toFixed(2) },
      });
    };
    const fire = (i: number, dueAt: number) => {
      const r = make(i);
      const req = http.request({ hostname: target.hostname, port: target.port, path: r.path, headers: r.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) ok++;
          histogram.record(Math.max(1, Math.round((performance.now() - dueAt) * 1000))); // µs
          hooks.onAnswer?.(i, status);
          finish();
        });
      });
      req.on('error', () => {
        hooks.onAnswer?.(i, 0);
        finish();
      });
      req.end();
      lastSentAt = performance.now();
      hooks.onSent?.(i, lastSentAt);
    };
    const tick = () => {
      const now = performance.now();
      // everything due by now goes out now, each charged from its own due time
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const i = sent++;
        fire(i, start + (i * 1000) / rate);
      }
      if (sent < total) setTimeout(tick, 1);
    };
    if (total === 0) resolve({ due: 0, sent: 0, ok: 0, failed: 0, achievedRate: 0, http: { p50: 0, p99: 0, max: 0 } });
    else tick();
  });
  return { done, answered: () => answered };
}
