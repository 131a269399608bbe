import type { Doc, Hit } from './reader.js';

/**
 * A timeline as a recording: every event and alert of a subject, session or refresh-token family
 * in time order, each step knowing whether it is a rejection or an alert (for "jump to next"),
 * and the refresh family drawn as a chain in which a refresh token exchanged twice is marked as
 * reuse. Pure: it takes the documents and returns the entries.
 */
export interface Entry {
  n: number;
  id: string;
  at: string;
  kind: 'event' | 'alert';
  action: string;
  outcome: string;
  summary: string;
  rejection: boolean;
  alert: boolean;
  /** token-refreshed that presents a refresh token already exchanged earlier in the family. */
  reuse: boolean;
  doc: Doc;
}

export interface ChainLink {
  entry: number;
  at: string;
  fingerprint: string;
  previous: string | null;
  /** the exchange presented a refresh token that was exchanged before */
  reuse: boolean;
  outcome: string;
  sourceIp: string | null;
}

const get = (d: Doc, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), d);
export const str = (d: Doc, path: string): string | undefined => {
  const v = get(d, path);
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
};

/** ECS event.duration (nanoseconds) as ` in 12.4 ms`, or nothing. */
function latencyMs(d: Doc): string {
  const ns = get(d, 'event.duration');
  return typeof ns === 'number' && Number.isFinite(ns) ? ` in ${Number((ns / 1e6).toFixed(3))} ms` : '';
}

function summary(d: Doc, kind: Entry['kind']): string {
  if (kind === 'alert') return `${(str(d, 'jwt_audit.alert.severity') ?? '').toUpperCase()} ${str(d, 'rule.name') ?? ''}: ${str(d, 'message') ?? ''}`;
  const req = str(d, 'http.request.method')
    ? `${str(d, 'http.request.method')} ${str(d, 'url.path') ?? ''} -> ${str(d, 'http.response.status_code') ?? '-'}${latencyMs(d)}`
    : '';
  const reason = str(d, 'event.reason');
  return [req || str(d, 'message') || '', reason ? `(${reason})` : ''].filter(Boolean).join(' ');
}

const isRejection = (d: Doc) => str(d, 'event.action') === 'token-rejected' || str(d, 'event.outcome') === 'failure';

export function buildTimeline(events: Hit[], alerts: Hit[]): { entries: Entry[]; chain: ChainLink[] } {
  const all = [...events.map((h) => ({ h, kind: 'event' as const })), ...alerts.map((h) => ({ h, kind: 'alert' as const }))].sort(
    (a, b) => String(a.h.doc['@timestamp'] ?? '').localeCompare(String(b.h.doc['@timestamp'] ?? '')) || (a.kind === b.kind ? 0 : a.kind === 'event' ? -1 : 1),
  );
  const exchanged = new Set<string>();
  const entries: Entry[] = [];
  const chain: ChainLink[] = [];
  for (const { h, kind } of all) {
    const d = h.doc;
    const action = kind === 'alert' ? (str(d, 'rule.name') ?? 'alert') : (str(d, 'event.action') ?? '');
    let reuse = false;
    if (kind === 'event' && action === 'token-refreshed') {
      const prev = str(d, 'jwt_audit.token.previous_fingerprint');
      if (prev) {
        reuse = exchanged.has(prev);
        exchanged.add(prev);
      }
    }
    const n = entries.length;
    entries.push({
      n,
      id: h.id,
      at: String(d['@timestamp'] ?? ''),
      kind,
      action,
      outcome: str(d, 'event.outcome') ?? '',
      summary: summary(d, kind),
      rejection: kind === 'event' && isRejection(d),
      alert: kind === 'alert',
      reuse,
      doc: d,
    });
    if (kind === 'event' && ((action === 'token-issued' && str(d, 'jwt_audit.token.typ') === 'refresh') || action === 'token-refreshed')) {
      chain.push({
        entry: n,
        at: String(d['@timestamp'] ?? ''),
        fingerprint: str(d, 'jwt_audit.token.fingerprint') ?? '',
        previous: str(d, 'jwt_audit.token.previous_fingerprint') ?? null,
        reuse,
        outcome: str(d, 'event.outcome') ?? '',
        sourceIp: str(d, 'source.ip') ?? null,
      });
    }
  }
  return { entries, chain };
}

/** Where the step buttons lead from entry `at`: -1 where there is nowhere to go. */
export function steps(
  entries: Entry[],
  at: number,
): { prev: number; next: number; nextRejection: number; nextAlert: number; prevRejection: number; prevAlert: number } {
  const find = (from: number, dir: 1 | -1, ok: (e: Entry) => boolean) => {
    for (let i = from + dir; i >= 0 && i < entries.length; i += dir) if (ok(entries[i]!)) return i;
    return -1;
  };
  return {
    prev: at > 0 ? at - 1 : -1,
    next: at + 1 < entries.length ? at + 1 : -1,
    nextRejection: find(at, 1, (e) => e.rejection || e.reuse),
    prevRejection: find(at, -1, (e) => e.rejection || e.reuse),
    nextAlert: find(at, 1, (e) => e.alert),
    prevAlert: find(at, -1, (e) => e.alert),
  };
}
