import { pooledRandomBytes } from '@jwt-audit/runtime';
import type { Trace } from '@jwt-audit/events';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/):
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *                 2 hex      32 hex       16 hex        2 hex     (lower case)
 * version ff is invalid; an all-zero trace-id or parent-id is invalid. A future version may
 * append fields after another "-", which a version-00 reader ignores.
 * The interceptor is a hop: it keeps the trace id, makes a new span id for itself, and sends
 * the upstream a traceparent whose parent is that span. Without a valid incoming header it
 * starts a trace. tracestate is passed through (bounded), never interpreted.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
const MAX_TRACESTATE = 512;

export interface ParsedTraceparent {
  version: string;
  traceId: string;
  parentId: string;
  flags: string;
}

export function parseTraceparent(value: string | string[] | undefined): ParsedTraceparent | null {
  if (typeof value !== 'string') return null;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return null;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || traceId === ZERO_TRACE || parentId === ZERO_SPAN) return null;
  if (version === '00' && rest !== undefined) return null; // version 00 has exactly four fields
  return { version, traceId, parentId, flags };
}

export interface HopTrace {
  /** What the event records. */
  trace: Trace;
  /** Headers to send upstream. */
  outgoing: { traceparent: string; tracestate?: string };
}

export function hopTrace(
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
  random: () => Buffer = () => pooledRandomBytes(24),
): HopTrace {
  const parsed = parseTraceparent(traceparent);
  const bytes = random();
  const spanId = bytes.subarray(16, 24).toString('hex');
  const traceId = parsed?.traceId ?? bytes.subarray(0, 16).toString('hex');
  const flags = parsed?.flags ?? '01';
  const out = `00-${traceId}-${spanId}-${flags}`;
  const state = parsed && typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE ? tracestate : undefined;
  return {
    trace: { traceparent: out, tracestate: state ?? null, traceId, spanId },
    outgoing: state !== undefined ? { traceparent: out, tracestate: state } : { traceparent: out },
  };
}
