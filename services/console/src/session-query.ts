import type { estypes } from '@elastic/elasticsearch';
import { EVENT_FIELDS, SESSION_FIELDS, type FieldTable } from '@jwt-audit/ecs';
import { SESSION_END_REASONS, type SessionSummary } from '@jwt-audit/events';
import { RUNTIME_ERRORS } from '@jwt-audit/runtime';
import type { Doc } from './reader.js';
import { intParam, PAGE_SIZES, parseTime, text, type ParamError } from './search-query.js';

/**
 * The Sessions page: the sessionizer's summaries (one document per session in
 * `audit-sessions-<namespace>`, replaced by each revision), filtered and paged from a URL's query
 * string as an attacker would send it (every value bounded and checked, every problem named by its
 * parameter), and the scope of one session's timeline in the events index.
 *
 * Field names come from packages/ecs's field tables (the index templates), not from literals: the
 * summary's object (`jwt_audit.session.*` today) is found by its `last_seen_at` leaf, so a rename of the
 * prefix in the templates moves the console with it, and a field the templates do not have fails
 * at load rather than quietly matching nothing.
 */

function resolve(table: FieldTable, leaf: RegExp, what: string): string {
  const found = [...table.keys()].filter((k) => leaf.test(k));
  if (found.length !== 1)
    throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(
      `console: expected one ${what} field in the index template, found ${found.length ? found.join(', ') : 'none'}`,
    );
  return found[0]!;
}

const sessionPrefix = resolve(SESSION_FIELDS, /(^|\.)session\.last_seen_at$/, 'session last_seen_at').replace(/last_seen_at$/, '');
const sf = (leaf: string) => {
  const p = sessionPrefix + leaf;
  if (!SESSION_FIELDS.has(p)) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(`console: the sessions index template has no ${p}`);
  return p;
};
const ef = (path: string, table: FieldTable = EVENT_FIELDS) => {
  if (!table.has(path)) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(`console: the events index template has no ${path}`);
  return path;
};

/** The summary fields the page reads (dotted paths in the sessions index). */
export const SF = {
  id: sf('id'),
  subject: ef('user.id', SESSION_FIELDS),
  basis: sf('basis'),
  sid: sf('sid'),
  familyId: sf('family_id'),
  clientId: sf('client_id'),
  open: sf('open'),
  // start, end, duration (nanoseconds, as ECS's event.duration) and end reason are ECS's event.* fields
  startedAt: ef('event.start', SESSION_FIELDS),
  lastSeenAt: sf('last_seen_at'),
  endedAt: ef('event.end', SESSION_FIELDS),
  durationNs: ef('event.duration', SESSION_FIELDS),
  endReason: ef('event.reason', SESSION_FIELDS),
  endDetail: sf('end_detail'),
  ips: sf('ips'),
  ipsDropped: sf('ips_dropped'),
  countries: sf('countries'),
  cities: sf('cities'),
  requests: sf('requests'),
  routes: sf('routes'),
  routesDropped: sf('routes_dropped'),
  bytesIn: sf('bytes_in'),
  bytesOut: sf('bytes_out'),
  rejections: sf('rejections'),
  alerts: sf('alerts'),
  alertRules: sf('alert_rules'),
  approvals: sf('approvals'),
  afterEnd: sf('after_end'),
  events: sf('events'),
  updatedAt: sf('updated_at'),
} as const;

/** The event fields a session's timeline is scoped by. */
const EF = {
  subject: ef('user.id'),
  sessionId: ef('jwt_audit.session_id'),
  familyId: ef('jwt_audit.token.family_id'),
  clientId: ef('jwt_audit.token.client_id'),
  time: ef('@timestamp'),
} as const;

export const END_REASONS: readonly string[] = SESSION_END_REASONS;
export const STATES = ['open', 'ended'] as const;
const SINCE = /^(\d{1,4})([mhd])$/;
const UNIT = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_WINDOW = 10_000;
const MAX_VALUE = 256;
/** Session ids are `<basis>:<value>@<startedAt ms>` (`#n` on a collision); the value is bounded by the sessionizer. */
const MAX_ID = 1_024;

export interface SessionParams {
  subject: string | undefined;
  state: (typeof STATES)[number] | undefined;
  /** epoch ms: sessions active since (last seen at or after) */
  since: number | undefined;
  /** the raw `since` as given, for links */
  sinceRaw: string | undefined;
  reason: string | undefined;
  size: number;
  page: number;
}

/** No control character at all in a filter (the search box alone may hold tabs and line breaks). */
const CONTROL = /[\u0000-\u001f\u007f]/;
const one = (p: URLSearchParams, name: string, errors: ParamError[]) => text(p, name, errors, MAX_VALUE, CONTROL);

const KNOWN = new Set(['subject', 'state', 'since', 'reason', 'size', 'page']);

export function parseSessionParams(p: URLSearchParams, now: number): { ok: true; params: SessionParams } | { ok: false; errors: ParamError[] } {
  const errors: ParamError[] = [];
  for (const k of new Set(p.keys())) if (!KNOWN.has(k)) errors.push({ param: k.slice(0, 64), message: `not a Sessions parameter (${[...KNOWN].join(', ')})` });
  const subject = one(p, 'subject', errors);
  const stateRaw = one(p, 'state', errors);
  let state: SessionParams['state'];
  if (stateRaw !== undefined) {
    if ((STATES as readonly string[]).includes(stateRaw)) state = stateRaw as SessionParams['state'];
    else errors.push({ param: 'state', message: `expected one of ${STATES.join(', ')}` });
  }
  const sinceRaw = one(p, 'since', errors);
  let since: number | undefined;
  if (sinceRaw !== undefined) {
    const m = SINCE.exec(sinceRaw);
    since = m ? now - Number(m[1]) * UNIT[m[2] as keyof typeof UNIT] : parseTime(sinceRaw);
    if (since === undefined || since < 0) {
      since = undefined;
      errors.push({ param: 'since', message: 'expected a duration (30m, 24h, 7d) or a time (ISO 8601 or epoch milliseconds)' });
    }
  }
  const reason = one(p, 'reason', errors);
  if (reason !== undefined && !END_REASONS.includes(reason)) errors.push({ param: 'reason', message: `expected one of ${END_REASONS.join(', ')}` });
  if (reason !== undefined && state === 'open') errors.push({ param: 'reason', message: 'an open session has no end reason: drop state=open' });
  const int = (name: string, dflt: number, ok: (n: number) => boolean, expect: string) => intParam(p, name, errors, dflt, ok, expect);
  const size = int('size', 50, (n) => PAGE_SIZES.includes(n), `expected one of ${PAGE_SIZES.join(', ')}`);
  const page = int('page', 1, (n) => Number.isInteger(n) && n >= 1, 'expected a page number from 1');
  if (page * size > MAX_WINDOW) errors.push({ param: 'page', message: `only the first ${MAX_WINDOW} sessions can be paged through: filter` });
  if (errors.length) return { ok: false, errors };
  return { ok: true, params: { subject, state, since, sinceRaw, reason: reason && END_REASONS.includes(reason) ? reason : undefined, size, page } };
}

/** A session id from `/timeline?summary=`: bounded, printable; anything else is named as `summary`. */
export function parseSummaryId(values: string[]): { ok: true; id: string } | { ok: false; errors: ParamError[] } {
  const errors: ParamError[] = [];
  if (values.length > 1) errors.push({ param: 'summary', message: 'given more than once' });
  const v = values[0] ?? '';
  if (v === '' || v.length > MAX_ID || CONTROL.test(v))
    errors.push({ param: 'summary', message: `a session id: 1 to ${MAX_ID} characters, no control characters` });
  return errors.length ? { ok: false, errors } : { ok: true, id: v };
}

export function sessionsQuery(s: SessionParams): estypes.QueryDslQueryContainer {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (s.subject !== undefined) filter.push({ term: { [SF.subject]: s.subject } });
  if (s.state !== undefined) filter.push({ term: { [SF.open]: s.state === 'open' } });
  if (s.reason !== undefined) filter.push({ term: { [SF.endReason]: s.reason } });
  // active since: a session that began earlier but was still seen in the window counts (as `audit sessions --since`)
  if (s.since !== undefined) filter.push({ range: { [SF.lastSeenAt]: { gte: s.since, format: 'epoch_millis' } } });
  return { bool: { filter } };
}

export function sessionsHref(s: SessionParams, change: Partial<SessionParams> = {}): string {
  const v = { ...s, ...change };
  const p = new URLSearchParams();
  if (v.subject) p.set('subject', v.subject);
  if (v.state) p.set('state', v.state);
  if (v.sinceRaw) p.set('since', v.sinceRaw);
  if (v.reason) p.set('reason', v.reason);
  if (v.size !== 50) p.set('size', String(v.size));
  if (v.page !== 1) p.set('page', String(v.page));
  const q = p.toString();
  return q ? `/sessions?${q}` : '/sessions';
}

const at = (d: Doc, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), d);

/** The summary's counters and lists, as the sessionizer writes them (packages/events). */
type SessionCounts = Pick<
  SessionSummary,
  | 'id'
  | 'subject'
  | 'startedAt'
  | 'lastSeenAt'
  | 'durationMs'
  | 'ips'
  | 'ipsDropped'
  | 'countries'
  | 'cities'
  | 'requests'
  | 'routes'
  | 'routesDropped'
  | 'bytesIn'
  | 'bytesOut'
  | 'rejections'
  | 'alerts'
  | 'alertRules'
  | 'approvals'
  | 'afterEnd'
  | 'events'
>;

/** A summary document read into what the pages show (missing values as undefined / 0 / []). */
export interface SessionView extends SessionCounts {
  basis: string;
  sid: string | undefined;
  familyId: string | undefined;
  clientId: string | undefined;
  open: boolean;
  endedAt: number | undefined;
  endReason: string | undefined;
  endDetail: string | undefined;
  /** The sessionizer's clock at the last revision. */
  updatedAt: number | undefined;
}

export function sessionView(id: string, d: Doc): SessionView {
  const s = (p: string) => (typeof at(d, p) === 'string' ? (at(d, p) as string) : undefined);
  const n = (p: string) => (typeof at(d, p) === 'number' && Number.isFinite(at(d, p)) ? (at(d, p) as number) : 0);
  const t = (p: string) => {
    const v = s(p);
    const ms = v === undefined ? NaN : Date.parse(v);
    return Number.isFinite(ms) ? ms : undefined;
  };
  const list = (p: string) => {
    const v = at(d, p);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  };
  const startedAt = t(SF.startedAt) ?? 0;
  return {
    id: s(SF.id) ?? id,
    subject: s(SF.subject) ?? '',
    basis: s(SF.basis) ?? '',
    sid: s(SF.sid),
    familyId: s(SF.familyId),
    clientId: s(SF.clientId),
    open: at(d, SF.open) === true,
    startedAt,
    lastSeenAt: t(SF.lastSeenAt) ?? startedAt,
    endedAt: t(SF.endedAt),
    durationMs: Math.round(n(SF.durationNs) / 1e6),
    endReason: s(SF.endReason),
    endDetail: s(SF.endDetail),
    ips: list(SF.ips),
    ipsDropped: n(SF.ipsDropped),
    countries: list(SF.countries),
    cities: list(SF.cities),
    requests: n(SF.requests),
    routes: list(SF.routes),
    routesDropped: n(SF.routesDropped),
    bytesIn: n(SF.bytesIn),
    bytesOut: n(SF.bytesOut),
    rejections: n(SF.rejections),
    alerts: n(SF.alerts),
    alertRules: list(SF.alertRules),
    approvals: n(SF.approvals),
    afterEnd: n(SF.afterEnd),
    events: n(SF.events),
    updatedAt: t(SF.updatedAt),
  };
}

/**
 * What belongs to one session in the events and alerts indices: the key the sessionizer grouped by
 * (the sid, the refresh family, or subject + client), over the session's time span. A sid's
 * successive sessions share the key, hence the span: from its start to its end or its last event,
 * whichever is later. After a sign-out or a deprovisioning the sessionizer counts the key's later
 * events on the ended session (`after_end`) instead of opening one: those are shown too, up to the
 * summary's last revision (the sessionizer's clock when it counted the last of them).
 */
const ALERT_SLACK_MS = 5 * 60_000; // 5 min

export function sessionScope(
  v: SessionView,
  alertFields: { sessionId: string; familyId: string; subject: string; clientId: string },
): { events: estypes.QueryDslQueryContainer; alerts: estypes.QueryDslQueryContainer; from: number; to: number } {
  const from = v.startedAt;
  const afterEnd = v.afterEnd > 0 && (v.endReason === 'sign_out' || v.endReason === 'deprovisioning') && v.basis !== 'subject_client';
  const to = Math.max(v.endedAt ?? 0, v.lastSeenAt, v.startedAt, afterEnd ? (v.updatedAt ?? 0) : 0);
  const range = (slack: number) => ({ range: { [EF.time]: { gte: from, lte: to + slack, format: 'epoch_millis' } } });
  const key = (f: { sessionId: string; familyId: string; subject: string; clientId: string }): estypes.QueryDslQueryContainer[] => {
    const sub = { term: { [f.subject]: v.subject } };
    if (v.basis === 'sid' && v.sid) return [sub, { term: { [f.sessionId]: v.sid } }];
    if (v.basis === 'family' && v.familyId)
      return [sub, { bool: { should: [{ term: { [f.familyId]: v.familyId } }, { term: { [f.sessionId]: `rtf:${v.familyId}` } }], minimum_should_match: 1 } }];
    // subject + client with an idle gap: the sessionizer writes '-' for no client
    return [sub, v.clientId && v.clientId !== '-' ? { term: { [f.clientId]: v.clientId } } : { bool: { must_not: [{ exists: { field: f.clientId } }] } }];
  };
  return {
    events: { bool: { filter: [range(0), ...key({ sessionId: EF.sessionId, familyId: EF.familyId, subject: EF.subject, clientId: EF.clientId })] } },
    // an alert is stamped when the detector raised it, a little after the evidence it counts on the session
    alerts: { bool: { filter: [range(ALERT_SLACK_MS), ...key(alertFields)] } },
    from,
    to,
  };
}
