/**
 * An open-loop load at a steady rate, for latency: request i is sent at start + i / rate whatever
 * the earlier ones are doing, over keep-alive connections, and its latency is measured from when
 * it was due (so a stalled server is charged for the requests that waited, not only the one it was
 * serving). autocannon's `overallRate` is not this: it sends each connection's quota for the
 * second as fast as it can and then waits for the next second, so every second starts with a
 * burst and latency there measures how fast a burst drains.
 */
import http from 'node:http';
import { createHistogram } from 'node:perf_hooks';

export interface SteadyResult {
  sent: number;
  failed: number;
  /** milliseconds */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export async function steadyLoad(url: string, headers: Record<string, string>, rate: number, seconds: number): Promise<SteadyResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(url);
  const histogram = createHistogram();
  const total = Math.round(rate * seconds);
  let sent = 0;
  let done = 0;
  let failed = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (++done === total) resolve();
    };
    const fire = (dueAt: number) => {
      const req = http.request({ hostname: target.hostname, port: target.port, path: target.pathname + target.search, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) failed++;
          histogram.record(Math.max(1, Math.round((performance.now() - dueAt) * 1000))); // µs
          finish();
        });
      });
      req.on('error', () => {
        failed++;
        finish();
      });
      req.end();
    };
    const tick = () => {
      const now = performance.now();
      // everything due by now goes out now, each charged from its own due time
      while (sent < total && start + (sent * 1000) / rate <= now) fire(start + (sent++ * 1000) / rate);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  const ms = (p: number) => +(histogram.percentile(p) / 1000).toFixed(2);
  return { sent, failed, p50: ms(50), p90: ms(90), p99: ms(99), max: +(histogram.max / 1000).toFixed(2) };
}
