/**
 * The replay itself: the planned requests sent one after another in recorded order, at most
 * `rate` a second (and with the recorded spacing under `pace: recorded`), each answer compared
 * with the recorded one. Sequential on purpose: the recorded order is the point (a session's
 * POST before its GET), and one request at a time is the gentlest load on a test instance.
 */
import { compareResponse, type Comparison } from './compare.js';
import { REPLAY_HEADER, type Flag, type PlannedRequest } from './plan.js';
import { send, type Outgoing } from './send.js';

export type Result = 'match' | 'differs' | 'skipped' | 'error' | 'dry-run';

export interface ReplayRow {
  n: number;
  request: PlannedRequest;
  /** The URL it was (or would be) sent to. */
  url: string;
  result: Result;
  replayed?: { status: number; size: number; sha256: string; latencyMs: number };
  comparison?: Comparison;
  error?: string;
  flags: Flag[];
}

export interface ReplayOptions {
  target: URL;
  /** The operator's token, sent as `Authorization: Bearer` where the recorded request carried a credential. */
  token: string | null;
  rate: number;
  pace: 'recorded' | 'none';
  timeoutMs: number;
  dryRun: boolean;
  sendUnfaithful: boolean;
  /** Called after each request (progress). */
  onRow?: (row: ReplayRow, total: number) => void;
  sleep?: (ms: number) => Promise<void>;
  /** The clock pacing reads (ms); with `sleep`, a test's own time. */
  now?: () => number;
}

/** The recorded path and query under the target's base path (`http://test:8080/base` + `/api/x`). */
export function targetUrl(base: URL, target: string): URL {
  const prefix = base.pathname.replace(/\/+$/, '');
  return new URL(`${base.origin}${prefix}${target}`);
}

export function outgoing(p: PlannedRequest, o: Pick<ReplayOptions, 'target' | 'token'>): Outgoing {
  const headers: Record<string, string> = { ...p.headers, [REPLAY_HEADER]: p.eventId };
  if (p.authenticated && o.token !== null) headers.authorization = `Bearer ${o.token}`;
  return { method: p.method, url: targetUrl(o.target, p.target), headers, body: p.body };
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function replay(plan: PlannedRequest[], o: ReplayOptions): Promise<ReplayRow[]> {
  const sleep = o.sleep ?? defaultSleep;
  const now = o.now ?? Date.now;
  const rows: ReplayRow[] = [];
  const minGapMs = 1000 / o.rate;
  let lastSent: number | null = null;
  let firstSent: number | null = null;
  const firstRecorded = plan.find((p) => !p.unfaithful || o.sendUnfaithful)?.at ?? 0;
  for (const [i, p] of plan.entries()) {
    const req = outgoing(p, o);
    const row: ReplayRow = { n: i + 1, request: p, url: req.url.href, result: 'dry-run', flags: p.flags };
    if (p.unfaithful && !o.sendUnfaithful) {
      row.result = 'skipped';
    } else if (!o.dryRun) {
      // the later of: the rate limit's next slot, and (pace recorded) the recorded offset
      let due = lastSent === null ? now() : lastSent + minGapMs;
      if (o.pace === 'recorded' && firstSent !== null) due = Math.max(due, firstSent + (p.at - firstRecorded));
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      const started = now();
      lastSent = started;
      firstSent ??= started;
      try {
        const t0 = performance.now();
        const res = await send(req, o.timeoutMs);
        row.replayed = { status: res.status, size: res.size, sha256: res.sha256, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
        row.comparison = compareResponse(p.recorded, res);
        row.result = row.comparison.match ? 'match' : 'differs';
      } catch (err) {
        row.result = 'error';
        row.error = (err as NodeJS.ErrnoException).code ? `${(err as NodeJS.ErrnoException).code}: ${(err as Error).message}` : (err as Error).message;
      }
    }
    rows.push(row);
    o.onRow?.(row, plan.length);
  }
  return rows;
}
