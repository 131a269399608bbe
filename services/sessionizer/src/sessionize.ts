import { createHash } from 'node:crypto';
import type { Alert, AuditEvent, SessionBasis, SessionEndReason, SessionSummary } from '@jwt-audit/events';
import { SESSIONIZER_ERRORS } from './errors.js';

/**
 * The sessionizer's pure core: `apply(state, event, now)`, `applyAlert(state, alert, now)` and
 * `tick(state, now)` take data and return data (derived session.started / session.ended events
 * and the sessions whose summary changed); the service does the I/O.
 *
 * Grouping, per subject (the input is keyed by subject, so a subject's events share a state):
 *   1. the `sid` claim (the enricher's `enrichment.sessionId`, else `token.sid`, else `session.id`);
 *   2. else the refresh-token family (`rtf:<family>` from the enricher, else `token.familyId`);
 *   3. else subject + OAuth client, split by an idle gap.
 * A session ends by sign-out (a pushed session.ended), revocation (token.revoked of one of its
 * tokens, its family or its sid), deprovisioning (subject.deprovisioned), token expiry (its newest
 * token expired `expiryGraceMs` ago) or idle timeout (`idleMs` without an event), or `evicted` when
 * the state is full. After sign-out or deprovisioning the same sid / family does not open a new
 * session: its events count as `afterEnd` on the ended one (the detector flags them). After idle,
 * expiry or revocation they open a new session: a revoked token's own reuse is rejected at the edge
 * (and is revoked-token-use's), while a valid token of the same sid was issued by the IdP since,
 * which keeps the IdP's session going (a refresh after an access token was revoked).
 *
 * Untrusted input: a rejected token's claims can be forged, so a `token.rejected` never opens a
 * session (it is counted on an existing one); every set is bounded and every string cut.
 */

export const SESSIONIZER_SOURCE = 'sessionizer';

export interface SessionizerRules {
  /** A session with no event for this long ends (idle_timeout) (ms). */
  idleMs: number; // 30 min
  /** A session whose newest token expired this long ago ends (token_expiry) (ms). */
  expiryGraceMs: number; // 1 min
  /** Ended sessions are kept this long, to attribute late events and count activity after the end (ms). */
  retainEndedMs: number; // 24 h
  /** Sessions kept per input partition; beyond, the oldest is dropped (ended ones first, else ended as `evicted`). */
  maxSessions: number;
  maxIps: number;
  maxRoutes: number;
  maxGeos: number;
  maxAlertRules: number;
  /** Token ids kept per session, to match a revocation (the newest ones). */
  maxTokenIds: number;
  /** Events further in the future than now + this are taken at now (ms). */
  maxSkewMs: number; // 5 min
  /** Event ids remembered per partition to skip duplicates (re-produced upstream at new offsets). */
  maxRecentIds: number;
}

export const DEFAULT_RULES: SessionizerRules = {
  idleMs: 30 * 60_000, // 30 min
  expiryGraceMs: 60_000, // 1 min
  retainEndedMs: 24 * 3_600_000, // 24 h
  maxSessions: 100_000,
  maxIps: 32,
  maxRoutes: 64,
  maxGeos: 16,
  maxAlertRules: 16,
  maxTokenIds: 16,
  maxSkewMs: 5 * 60_000, // 5 min
  maxRecentIds: 100_000,
};

/** One session in the state: its summary plus what matching needs. Plain JSON (journaled). */
export interface SessionEntry {
  summary: SessionSummary;
  /** `<basis>:<subject>:<value>`: the grouping key, shared by a sid's successive sessions. */
  key: string;
  tokenIds: string[];
}

export interface SessionState {
  /** Last applied offset per input topic-partition name (`<topic>-<partition>`). */
  offsets: Record<string, string>;
  /** By summary id, oldest first (Map order: insertion). */
  sessions: Map<string, SessionEntry>;
  /** Grouping key -> the newest session's id. */
  current: Map<string, string>;
  /** Changed / removed since the last drain (for the journal and the summaries to publish). */
  changed: Set<string>;
  removed: Set<string>;
  /** Final summaries of open sessions evicted since the last drain (no longer in `sessions`). */
  finals: SessionSummary[];
  /**
   * Ids of the events run lately, oldest first (at most `maxRecentIds`): a crashed upstream stage
   * re-produces events at new offsets with the same ids, which must not count twice.
   */
  recent: string[];
  recentSet: Set<string>;
  /** Ids added since the last drain (journaled). */
  recentAdded: string[];
  duplicates: number;
}

export interface Output {
  /** Derived session.started / session.ended events (deterministic ids: a replay repeats them exactly). */
  events: AuditEvent[];
}

const MAX_VALUE = 200;
const MAX_ITEM = 256;
const AUTHORITATIVE_END: ReadonlySet<SessionEndReason> = new Set(['sign_out', 'deprovisioning']);

export function createSessionState(): SessionState {
  return {
    offsets: {},
    sessions: new Map(),
    current: new Map(),
    changed: new Set(),
    removed: new Set(),
    finals: [],
    recent: [],
    recentSet: new Set(),
    recentAdded: [],
    duplicates: 0,
  };
}

/** A value an attacker may make long: kept when short, else replaced by a hash of it. */
export function boundedValue(v: string): string {
  return v.length <= MAX_VALUE ? v : `h-${createHash('sha256').update(v).digest('hex').slice(0, 32)}`;
}

const cut = (v: string) => (v.length <= MAX_ITEM ? v : v.slice(0, MAX_ITEM));

/** Deterministic UUIDv7: the time is `ms`, the rest a hash of `seed`, so a replayed derived event keeps its id. */
export function derivedId(seed: string, ms: number): string {
  const b = createHash('sha256').update(seed).digest().subarray(0, 16);
  const t = Math.max(0, Math.min(Math.floor(ms), 2 ** 48 - 1));
  b.writeUIntBE(t, 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Grouping {
  basis: SessionBasis;
  value: string;
  sid: string | null;
  familyId: string | null;
}

/** How an event is grouped; null when it names no subject. */
export function groupingOf(e: AuditEvent): Grouping | null {
  if (!e.actor.sub) return null;
  const explicit = e.enrichment?.sessionId ?? e.token?.sid ?? e.session?.id ?? null;
  const family = e.token?.familyId ?? null;
  if (explicit && explicit.startsWith('rtf:') && explicit.length > 4) {
    const f = boundedValue(explicit.slice(4));
    return { basis: 'family', value: f, sid: null, familyId: f };
  }
  if (explicit) return { basis: 'sid', value: boundedValue(explicit), sid: boundedValue(explicit), familyId: family ? boundedValue(family) : null };
  if (family) return { basis: 'family', value: boundedValue(family), sid: null, familyId: boundedValue(family) };
  return { basis: 'subject_client', value: boundedValue(e.actor.clientId ?? '-'), sid: null, familyId: null };
}

const keyOf = (subject: string, g: Grouping) => `${g.basis}:${boundedValue(subject)}:${g.value}`;

function touch(state: SessionState, entry: SessionEntry, now: number): void {
  entry.summary.revision++;
  entry.summary.updatedAt = now;
  entry.summary.durationMs = (entry.summary.endedAt ?? entry.summary.lastSeenAt) - entry.summary.startedAt;
  state.changed.add(entry.summary.id);
}

function addBounded(list: string[], v: string, max: number): boolean {
  if (list.includes(v)) return true;
  if (list.length >= max) return false;
  list.push(v);
  return true;
}

function sessionEvent(kind: 'session.started' | 'session.ended', s: SessionSummary, at: number, now: number, instance: string): AuditEvent {
  const attributes: Record<string, string> = { 'session.basis': s.basis, 'session.summary_id': s.id };
  if (s.sid) attributes['session.sid'] = s.sid;
  if (s.familyId) attributes['session.family_id'] = s.familyId;
  if (kind === 'session.ended' && s.endDetail) attributes['session.end_detail'] = s.endDetail;
  return {
    id: derivedId(`${s.id}|${kind}`, at),
    schemaVersion: 4,
    approval: null,
    kind,
    occurredAt: at,
    observedAt: now,
    source: { service: SESSIONIZER_SOURCE, instance, environment: '' },
    outcome: 'success',
    actor: { sub: s.subject, clientId: s.clientId, tenant: s.tenant, roles: [], scopes: [] },
    token: null,
    rejection: null,
    key: null,
    // the sid itself where there is one, so searches and the detector's session rules join on it
    session: { id: s.sid ?? s.id, reason: kind === 'session.ended' ? s.endReason : null },
    http: null,
    network: null,
    trace: null,
    masking: null,
    enrichment: null,
    attributes,
  };
}

export interface Context {
  rules: SessionizerRules;
  /** Names the derived events' source.instance. */
  instance: string;
}

function open(
  state: SessionState,
  ctx: Context,
  out: Output,
  key: string,
  g: Grouping,
  e: AuditEvent,
  at: number,
  now: number,
  explicit: boolean,
): SessionEntry {
  const subject = boundedValue(e.actor.sub!);
  let id = `${g.basis === 'subject_client' ? `sc:${subject}|${g.value}` : `${g.basis}:${g.value}`}@${at}`;
  for (let n = 2; state.sessions.has(id); n++) id = `${id.replace(/#\d+$/, '')}#${n}`;
  const summary: SessionSummary = {
    id,
    schemaVersion: 1,
    revision: 0,
    basis: g.basis,
    sid: g.sid,
    familyId: g.familyId,
    subject,
    clientId: e.actor.clientId ? cut(e.actor.clientId) : null,
    tenant: e.actor.tenant ? cut(e.actor.tenant) : null,
    explicitStart: explicit,
    startedAt: at,
    lastSeenAt: at,
    endedAt: null,
    durationMs: 0,
    endReason: null,
    endDetail: null,
    tokenExpiresAt: null,
    ips: [],
    ipsDropped: 0,
    countries: [],
    cities: [],
    requests: 0,
    routes: [],
    routesDropped: 0,
    bytesIn: 0,
    bytesOut: 0,
    rejections: 0,
    alerts: 0,
    alertRules: [],
    approvals: 0,
    afterEnd: 0,
    events: 0,
    updatedAt: now,
  };
  const entry: SessionEntry = { summary, key, tokenIds: [] };
  state.sessions.set(id, entry);
  state.current.set(key, id);
  if (!explicit) out.events.push(sessionEvent('session.started', summary, at, now, ctx.instance));
  touch(state, entry, now);
  evict(state, ctx, out, now);
  return entry;
}

function end(
  state: SessionState,
  ctx: Context,
  out: Output,
  entry: SessionEntry,
  reason: SessionEndReason,
  at: number,
  now: number,
  detail: string | null,
  pushed: boolean,
): void {
  const s = entry.summary;
  if (s.endedAt !== null) return;
  s.endedAt = Math.max(at, s.startedAt);
  s.endReason = reason;
  s.endDetail = detail === null ? null : cut(detail);
  if (!pushed) out.events.push(sessionEvent('session.ended', s, s.endedAt, now, ctx.instance));
  touch(state, entry, now);
}

function remove(state: SessionState, id: string): void {
  const entry = state.sessions.get(id);
  if (!entry) return;
  state.sessions.delete(id);
  if (state.current.get(entry.key) === id) state.current.delete(entry.key);
  state.changed.delete(id);
  state.removed.add(id);
}

/** Beyond maxSessions: drop the oldest ended session, else end the oldest open one as `evicted` and drop it. */
function evict(state: SessionState, ctx: Context, out: Output, now: number): void {
  while (state.sessions.size > ctx.rules.maxSessions) {
    let victim: SessionEntry | undefined;
    let scanned = 0;
    // look a little way for an ended one (cheap); the map is oldest first
    for (const entry of state.sessions.values()) {
      if (entry.summary.endedAt !== null) {
        victim = entry;
        break;
      }
      if (++scanned >= 64) break;
    }
    victim ??= state.sessions.values().next().value!;
    if (victim.summary.endedAt === null) {
      end(state, ctx, out, victim, 'evicted', victim.summary.lastSeenAt, now, null, false);
      // its last summary must still be published, though it leaves the state
      state.finals.push(victim.summary);
    }
    remove(state, victim.summary.id);
  }
}

function attribute(entry: SessionEntry, e: AuditEvent, at: number, rules: SessionizerRules): void {
  const s = entry.summary;
  s.events++;
  if (at > s.lastSeenAt) s.lastSeenAt = at;
  if (at < s.startedAt && s.endedAt === null) s.startedAt = at; // out of order: the session began earlier
  const ip = e.network?.clientIp;
  if (ip && !addBounded(s.ips, cut(ip), rules.maxIps)) s.ipsDropped++;
  const geo = e.enrichment?.geo;
  if (geo?.countryIso) addBounded(s.countries, cut(geo.countryIso), rules.maxGeos);
  if (geo?.city) addBounded(s.cities, cut(geo.city), rules.maxGeos);
  if (e.http) {
    s.requests++;
    const route = `${cut(e.http.request.method)} ${cut(e.http.request.route ?? e.http.request.path)}`;
    if (!addBounded(s.routes, route, rules.maxRoutes)) s.routesDropped++;
    s.bytesIn = addBytes(s.bytesIn, e.http.request.body?.size);
    s.bytesOut = addBytes(s.bytesOut, e.http.response?.body?.size);
  }
  if (e.kind === 'token.rejected') s.rejections++;
  if ((e.kind as string).startsWith('approval.')) s.approvals++;
  const tokenId = e.token?.jti ?? null;
  if (tokenId && e.kind !== 'token.rejected') {
    const t = cut(tokenId);
    if (!entry.tokenIds.includes(t)) {
      entry.tokenIds.push(t);
      if (entry.tokenIds.length > rules.maxTokenIds) entry.tokenIds.shift();
    }
  }
  const exp = e.token?.exp;
  if (e.kind !== 'token.rejected' && typeof exp === 'number' && Number.isFinite(exp)) {
    const expMs = exp * 1000;
    if (expMs > (s.tokenExpiresAt ?? -Infinity) && expMs < 8.64e15) s.tokenExpiresAt = expMs;
  }
}

/** A body size no request has (NaN, negative, above 1 TiB) is not counted; the sum saturates. */
function addBytes(sum: number, size: number | undefined): number {
  if (size === undefined || !Number.isSafeInteger(size) || size <= 0 || size > 2 ** 40) return sum;
  return Math.min(sum + size, 2 ** 52); // avsc refuses longs from 2^53 - 1 on
}

/** Event time, bounded: a clock far in the future cannot keep a session open for ever. */
function eventTime(e: AuditEvent, now: number, rules: SessionizerRules): number {
  const t = Number.isFinite(e.occurredAt) ? e.occurredAt : now;
  return Math.max(0, Math.min(t, now + rules.maxSkewMs));
}

function openSessionsOf(state: SessionState, subject: string): SessionEntry[] {
  const out: SessionEntry[] = [];
  for (const entry of state.sessions.values()) if (entry.summary.subject === subject && entry.summary.endedAt === null) out.push(entry);
  return out;
}

/** Runs one audit event through the sessions. */
export function apply(state: SessionState, e: AuditEvent, now: number, ctx: Context): Output {
  const out: Output = { events: [] };
  // our own derived events, back through the pipeline; an ingest API caller naming itself
  // `sessionizer` is still counted (the interceptor stamps every pushed event's ingest.principal)
  if (e.source.service === SESSIONIZER_SOURCE && e.attributes['ingest.principal'] === undefined) return out;
  if (!remember(state, e.id, ctx.rules.maxRecentIds)) {
    state.duplicates++;
    return out;
  }
  const sub = e.actor.sub;
  if (!sub) return out;
  const subject = boundedValue(sub);
  const at = eventTime(e, now, ctx.rules);
  const rules = ctx.rules;

  if (e.kind === 'subject.deprovisioned') {
    for (const entry of openSessionsOf(state, subject)) end(state, ctx, out, entry, 'deprovisioning', Math.max(at, entry.summary.lastSeenAt), now, null, false);
    return out;
  }
  if (e.kind === 'token.revoked') {
    const jti = e.token?.jti ? cut(e.token.jti) : null;
    const g = groupingOf(e);
    const detail = e.attributes['reason'] ?? e.session?.reason ?? null;
    for (const entry of openSessionsOf(state, subject)) {
      const s = entry.summary;
      const hit =
        (jti !== null && entry.tokenIds.includes(jti)) ||
        (g !== null && g.basis !== 'subject_client' && (s.sid === g.value || (g.familyId !== null && s.familyId === g.familyId)));
      if (hit) end(state, ctx, out, entry, 'revocation', Math.max(at, s.lastSeenAt), now, detail, false);
    }
    return out;
  }

  const g = groupingOf(e);
  if (!g) return out;
  const key = keyOf(subject, g);
  let entry = state.sessions.get(state.current.get(key) ?? '');

  if (e.kind === 'session.started') {
    if (entry && entry.summary.endedAt === null && at - entry.summary.lastSeenAt < rules.idleMs) {
      if (!entry.summary.explicitStart) {
        entry.summary.explicitStart = true;
        touch(state, entry, now);
      }
    } else {
      if (entry && entry.summary.endedAt === null) end(state, ctx, out, entry, 'idle_timeout', entry.summary.lastSeenAt + rules.idleMs, now, null, false);
      entry = open(state, ctx, out, key, g, e, at, now, true);
    }
    attribute(entry, e, at, rules);
    touch(state, entry, now);
    return out;
  }

  if (e.kind === 'session.ended') {
    // an IdP's sign-out; for a session we never saw, a zero-length one, so the sign-out has a record
    if (!entry || (entry.summary.endedAt !== null && at > entry.summary.endedAt)) entry = open(state, ctx, out, key, g, e, at, now, true);
    if (entry.summary.endedAt === null) {
      attribute(entry, e, at, rules);
      end(state, ctx, out, entry, 'sign_out', Math.max(at, entry.summary.lastSeenAt), now, e.session?.reason ?? null, true);
    }
    return out;
  }

  if (entry) {
    const s = entry.summary;
    if (s.endedAt === null && at - s.lastSeenAt >= rules.idleMs) {
      end(state, ctx, out, entry, 'idle_timeout', s.lastSeenAt + rules.idleMs, now, null, false);
    } else if (s.endedAt === null) {
      attribute(entry, e, at, rules);
      touch(state, entry, now);
      return out;
    }
    if (s.endedAt !== null && at <= s.endedAt) {
      // a late event from inside the ended session's span
      attribute(entry, e, at, rules);
      touch(state, entry, now);
      return out;
    }
    if (s.endReason !== null && AUTHORITATIVE_END.has(s.endReason) && g.basis !== 'subject_client') {
      s.afterEnd++;
      if (e.kind === 'token.rejected') s.rejections++;
      touch(state, entry, now);
      return out;
    }
  }
  if (e.kind === 'token.rejected') return out; // forged claims must not open sessions
  entry = open(state, ctx, out, key, g, e, at, now, false);
  attribute(entry, e, at, rules);
  touch(state, entry, now);
  return out;
}

/** False when the id was run already (a duplicate); else remembers it, forgetting the oldest beyond `max`. */
function remember(state: SessionState, id: string, max: number): boolean {
  if (state.recentSet.has(id)) return false;
  addRecent(state, id, max);
  state.recentAdded.push(id);
  return true;
}

function addRecent(state: SessionState, id: string, max: number): void {
  state.recent.push(id);
  state.recentSet.add(id);
  // drop in chunks: shifting one id per event from a 100k array would be quadratic
  if (state.recent.length > max + 1024) {
    for (const old of state.recent.splice(0, state.recent.length - max)) state.recentSet.delete(old);
  }
}

/** Counts an alert on the session it names (keys.sessionId), else on its subject's session at the alert's time. */
export function applyAlert(state: SessionState, a: Alert, now: number): boolean {
  if (!a.keys.subject) return false;
  const subject = boundedValue(a.keys.subject);
  const sid = a.keys.sessionId;
  const at = a.lastSeen;
  let best: SessionEntry | undefined;
  for (const entry of state.sessions.values()) {
    const s = entry.summary;
    if (s.subject !== subject) continue;
    if (sid) {
      const family = sid.startsWith('rtf:') ? boundedValue(sid.slice(4)) : null;
      if (s.sid === boundedValue(sid) || (family !== null && s.familyId === family)) {
        if (!best || s.startedAt > best.summary.startedAt) best = entry;
      }
      continue;
    }
    if (s.startedAt <= at && (s.endedAt ?? Infinity) >= at && (!best || s.lastSeenAt > best.summary.lastSeenAt)) best = entry;
  }
  if (!best) return false;
  best.summary.alerts++;
  addBounded(best.summary.alertRules, cut(a.rule), 16);
  touch(state, best, now);
  return true;
}

/** Processing-time end of sessions (idle, token expiry) and forgetting of old ended ones: runs on a timer, with or without traffic. */
export function tick(state: SessionState, now: number, ctx: Context): Output {
  const out: Output = { events: [] };
  const { rules } = ctx;
  const forget: string[] = [];
  for (const entry of state.sessions.values()) {
    const s = entry.summary;
    if (s.endedAt !== null) {
      if (s.endedAt < now - rules.retainEndedMs) forget.push(s.id);
      continue;
    }
    const idleAt = s.lastSeenAt + rules.idleMs;
    const expiryAt = s.tokenExpiresAt === null ? Infinity : s.tokenExpiresAt + rules.expiryGraceMs;
    if (expiryAt <= now && expiryAt <= idleAt && s.lastSeenAt <= expiryAt)
      end(state, ctx, out, entry, 'token_expiry', Math.max(s.tokenExpiresAt!, s.lastSeenAt), now, null, false);
    else if (idleAt <= now) end(state, ctx, out, entry, 'idle_timeout', idleAt, now, null, false);
  }
  for (const id of forget) remove(state, id);
  return out;
}

export interface Changes {
  offsets: Record<string, string>;
  upserts: SessionEntry[];
  removed: string[];
  /** Event ids run in this batch (duplicate detection). */
  ids?: string[];
}

/**
 * The changes since the last drain (the journal line) and the summaries to publish; clears them.
 * They are the state's own objects, not copies (copying was half the cost of a batch): encode and
 * serialise them before the state changes again (the service does, under the partition's lock).
 */
export function drainChanges(state: SessionState): { changes: Changes; summaries: SessionSummary[] } {
  const upserts: SessionEntry[] = [];
  for (const id of state.changed) {
    const entry = state.sessions.get(id);
    if (entry) upserts.push(entry);
  }
  const summaries = [...upserts.map((x) => x.summary), ...state.finals];
  state.finals = [];
  const changes: Changes = { offsets: { ...state.offsets }, upserts, removed: [...state.removed], ids: state.recentAdded };
  state.changed.clear();
  state.removed.clear();
  state.recentAdded = [];
  return { changes, summaries };
}

export function applyChanges(state: SessionState, c: Changes, maxRecentIds = DEFAULT_RULES.maxRecentIds): void {
  for (const id of c.ids ?? []) if (!state.recentSet.has(id)) addRecent(state, id, maxRecentIds);
  for (const id of c.removed) {
    const entry = state.sessions.get(id);
    if (!entry) continue;
    state.sessions.delete(id);
    if (state.current.get(entry.key) === id) state.current.delete(entry.key);
  }
  for (const entry of c.upserts) {
    state.sessions.set(entry.summary.id, entry); // an existing id keeps its place: the map stays oldest first
    const cur = state.sessions.get(state.current.get(entry.key) ?? '');
    if (!cur || cur.summary.startedAt <= entry.summary.startedAt) state.current.set(entry.key, entry.summary.id);
  }
  Object.assign(state.offsets, c.offsets);
}

export function snapshotOf(state: SessionState): { version: 1; offsets: Record<string, string>; sessions: SessionEntry[]; recent: string[] } {
  return { version: 1, offsets: { ...state.offsets }, sessions: [...state.sessions.values()], recent: state.recent };
}

export function restore(snapshot: unknown): SessionState {
  const s = snapshot as { version?: number; offsets?: Record<string, string>; sessions?: SessionEntry[]; recent?: string[] };
  if (s?.version !== 1 || !Array.isArray(s.sessions)) throw SESSIONIZER_ERRORS.AUDIT_ERR_SESSIONIZER_SNAPSHOT.create();
  const state = createSessionState();
  applyChanges(state, { offsets: s.offsets ?? {}, upserts: s.sessions, removed: [], ids: s.recent ?? [] }, Infinity);
  return state;
}
