import { createHash } from 'node:crypto';
import type { Alert, AlertKeys, AuditEvent } from '@jwt-audit/events';
import { resolveDetectionConfig, type DetectionConfig, type ResolvedDetectionConfig } from './config.js';
import { DetectionStateError } from './errors.js';
import { clientIp, sessionIdOf } from './event-facts.js';
import { KeyedStore, type Slot, type StoreDump } from './keyed-store.js';
import { RecentIds } from './recent-ids.js';
import { RULES } from './rules/index.js';
import { REPARTITIONED, type AnyRule, type CommonRuleConfig, type Finding, type Partitioning } from './types.js';

/**
 * The detector: every enabled rule over one stream of events, as data in, data out.
 *
 *   detect(state, event, now) -> { state, alerts }
 *
 * `state` holds, per rule, its keyed entries and its suppression windows; `detect` updates it in
 * place (for speed: no copy per event) and returns it. It does no I/O and reads no clock: windows
 * and expiry run on event time (the largest occurredAt seen, the watermark); `now` only stamps
 * `raisedAt`. The same events in the same order give the same state and alerts with the same ids.
 *
 * Suppression: the first finding for a rule and key raises an alert at once; further findings for
 * that key within the rule's suppressMs are folded, and when the window closes (the watermark
 * passes its end) one roll-up alert reports how many were folded (`suppressed`, `count`).
 *
 * Memory bound: each rule keeps at most `maxKeys` entries (least recently written evicted first)
 * and drops entries whose expiry (event time) has passed; suppression windows likewise. So a
 * state holds at most sum(maxKeys) entries of each rule's entry size (see the README table).
 */

interface SuppressionEntry {
  /** the first alert, the template of the roll-up */
  a: Alert;
  /** window end (event time) */
  e: number;
  /** findings folded */
  n: number;
  /** matching events in total */
  c: number;
  /** last folded finding's time */
  l: number;
  /** last evidence ids */
  ev: string[];
}

interface RuleSlot {
  rule: AnyRule;
  config: CommonRuleConfig & Record<string, unknown>;
  store: KeyedStore<unknown>;
  suppress: KeyedStore<SuppressionEntry>;
}

export interface DetectorState {
  readonly config: ResolvedDetectionConfig;
  readonly slots: RuleSlot[];
  /**
   * Event ids already run through the rules (per partitioning), so an event delivered twice (a
   * stage re-producing what it had not committed before a crash lands at a new offset) does not
   * count twice towards a threshold. The last `dedupeMaxIds` ids.
   */
  readonly seen: RecentIds;
  /** Duplicate events skipped since the state was created. */
  duplicates: number;
  /** Largest event time seen (ms), not beyond now + maxSkewMs. */
  watermark: number;
  /** The last input position applied (the service stores the Kafka offset here). */
  offset: string | null;
}

export interface DetectorOptions {
  rules?: DetectionConfig;
  /** Only rules with these partitionings get state here (default: all). */
  partitionings?: Partitioning[];
  /** Events further in the future than this (vs `now`) do not advance the watermark (ms). */
  maxSkewMs?: number;
  /**
   * How far behind the watermark an event may arrive and still find its state (ms, default 0):
   * sweeping keeps entries until watermark - allowedLatenessMs. A repartitioned stream interleaves
   * its source partitions, so it is out of order by up to one batch of one partition.
   */
  allowedLatenessMs?: number;
  /** Event ids remembered for deduplication: the last this many (default 200,000, ~30 MB; 0 disables it). */
  dedupeMaxIds?: number;
}

export interface DetectResult {
  state: DetectorState;
  alerts: Alert[];
}

const MAX_EVIDENCE = 20;
const DEFAULT_SKEW_MS = 5 * 60_000;
const skewOf = new WeakMap<DetectorState, number>();
const latenessOf = new WeakMap<DetectorState, number>();
const DEFAULT_DEDUPE_MAX_IDS = 200_000;

export function createDetectorState(options: DetectorOptions = {}): DetectorState {
  const config = resolveDetectionConfig(options.rules);
  const wanted = options.partitionings;
  const slots = RULES.filter((r) => config[r.name]!.enabled && (!wanted || wanted.includes(r.partitioning))).map((rule) => {
    const c = config[rule.name]!;
    return { rule, config: c, store: new KeyedStore<unknown>(c.maxKeys), suppress: new KeyedStore<SuppressionEntry>(c.maxKeys) };
  });
  const maxIds = options.dedupeMaxIds ?? DEFAULT_DEDUPE_MAX_IDS;
  const state: DetectorState = { config, slots, seen: new RecentIds(maxIds), duplicates: 0, watermark: 0, offset: null };
  skewOf.set(state, options.maxSkewMs ?? DEFAULT_SKEW_MS);
  latenessOf.set(state, options.allowedLatenessMs ?? 0);
  return state;
}

/** A UUIDv7-shaped id derived from the event time and what raised it: reprocessing yields the same id. */
export function alertId(time: number, ...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  const ms = Math.max(0, Math.min(2 ** 48 - 1, Math.floor(time)));
  const b = Buffer.alloc(16);
  b.writeUIntBE(ms, 0, 6);
  h.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function keysOf(e: AuditEvent, over: Partial<AlertKeys> | undefined): AlertKeys {
  return {
    subject: e.actor.sub,
    jti: e.token?.jti ?? null,
    ip: clientIp(e),
    clientId: e.actor.clientId,
    familyId: e.token?.familyId ?? null,
    sessionId: sessionIdOf(e),
    ...over,
  };
}

/** A stable key for one incident: every alert of one rule and suppression key (roll-ups and later windows included) shares it. */
export function incidentKey(ruleName: string, suppressKey: string): string {
  return createHash('sha256').update(`${ruleName}\u0000${suppressKey}`).digest('hex').slice(0, 32);
}

/** Where the triggering event came from, for a person to read: address, place, network. */
function networkOf(e: AuditEvent): string | null {
  const ip = clientIp(e);
  if (!ip) return null;
  const g = e.enrichment?.geo;
  const a = e.enrichment?.asn;
  const place = g ? [g.city, g.countryIso].filter(Boolean).join(', ') : '';
  return `${ip}${place ? ` (${place})` : ''}${a ? ` AS${a.number}${a.org ? ` ${a.org}` : ''}` : ''}${e.network?.userAgent ? ` ua=${e.network.userAgent.slice(0, 120)}` : ''}`;
}

function toAlert(slot: RuleSlot, f: Finding, e: AuditEvent, suppressKey: string, now: number): Alert {
  const evidence = f.evidence.includes(e.id) ? f.evidence.slice(-MAX_EVIDENCE) : [...f.evidence.slice(-(MAX_EVIDENCE - 1)), e.id];
  const lastSeen = e.occurredAt;
  const net = networkOf(e);
  // context an analyst needs without opening the evidence: the incident, what to do, the token and where it came from
  const context: Record<string, string> = { incidentKey: incidentKey(slot.rule.name, suppressKey) };
  if (slot.rule.respond) context.response = slot.rule.respond;
  if (e.token) context.tokenFingerprint = e.token.fingerprint.slice(0, 16);
  if (e.token?.previousFingerprint) context.presentedFingerprint = e.token.previousFingerprint.slice(0, 16);
  if (net) context.network = net;
  return {
    id: alertId(lastSeen, slot.rule.name, suppressKey, e.id),
    schemaVersion: 1,
    rule: slot.rule.id,
    severity: f.severity ?? slot.config.severity,
    keys: keysOf(e, f.keys),
    window: { sizeMs: f.windowMs, start: lastSeen - f.windowMs, end: lastSeen },
    count: f.count,
    suppressed: 0,
    firstSeen: Math.min(f.firstSeen, lastSeen),
    lastSeen,
    raisedAt: now,
    evidence,
    description: f.description,
    attributes: { ...context, ...(f.attributes ?? {}), ...(slot.rule.name !== slot.rule.id ? { variant: slot.rule.name.slice(slot.rule.id.length + 1) } : {}) },
  };
}

function rollUp(slot: RuleSlot, s: SuppressionEntry, now: number): Alert {
  const first = s.a;
  return {
    ...first,
    id: alertId(s.l, slot.rule.name, 'rollup', first.id),
    count: s.c,
    suppressed: s.n,
    window: { sizeMs: slot.config.suppressMs, start: first.lastSeen, end: s.e },
    lastSeen: s.l,
    raisedAt: now,
    evidence: s.ev,
    description: `${first.description} (and ${s.n} more within ${Math.round(slot.config.suppressMs / 60_000)} min)`,
    attributes: { ...first.attributes, rollupOf: first.id },
  };
}

/** Closes suppression windows whose end the watermark passed; returns the roll-up alerts. */
function closeWindows(state: DetectorState, now: number, out: Alert[]): void {
  for (const slot of state.slots) {
    // Windows are inserted in end order (suppressMs is fixed per rule) and never moved: expired ones are at the front.
    for (const [key, s] of slot.suppress.entries()) {
      if (s.x > state.watermark) break;
      if (s.v.n > 0) out.push(rollUp(slot, s.v, now));
      slot.suppress.delete(key);
    }
  }
}

function raise(state: DetectorState, slot: RuleSlot, f: Finding, e: AuditEvent, stateKey: string, now: number, out: Alert[]): void {
  const sKey = f.suppressKey ?? stateKey;
  const open = slot.suppress.get(sKey, e.occurredAt);
  if (open && e.occurredAt < open.e) {
    open.n++;
    open.c += 1;
    open.l = Math.max(open.l, e.occurredAt);
    for (const id of [...f.evidence, e.id]) if (!open.ev.includes(id)) open.ev.push(id);
    if (open.ev.length > MAX_EVIDENCE) open.ev.splice(0, open.ev.length - MAX_EVIDENCE);
    slot.suppress.set(sKey, open, open.e, false);
    return;
  }
  if (open) {
    // the window ended but was not closed yet (out-of-order event time): report it now
    if (open.n > 0) out.push(rollUp(slot, open, now));
    slot.suppress.delete(sKey);
  }
  const alert = toAlert(slot, f, e, sKey, now);
  out.push(alert);
  if (slot.config.suppressMs > 0) {
    const end = e.occurredAt + slot.config.suppressMs;
    slot.suppress.set(sKey, { a: alert, e: end, n: 0, c: alert.count, l: alert.lastSeen, ev: [...alert.evidence] }, end);
  }
}

/**
 * Runs every rule (of `only` partitioning, when given) over one event. Returns the state (the
 * same object, updated) and the alerts raised, roll-ups of closed suppression windows included.
 */
export function detect(state: DetectorState, event: AuditEvent, now: number, only?: Partitioning): DetectResult {
  const alerts: Alert[] = [];
  if (state.seen.cap > 0) {
    const id = only === undefined ? event.id : `${only}|${event.id}`;
    if (state.seen.has(id)) {
      state.duplicates++;
      return { state, alerts };
    }
    state.seen.add(id);
  }
  const limit = now + (skewOf.get(state) ?? DEFAULT_SKEW_MS);
  if (event.occurredAt > state.watermark && event.occurredAt <= limit) {
    state.watermark = event.occurredAt;
    closeWindows(state, now, alerts);
  }
  for (const slot of state.slots) {
    if (only !== undefined && slot.rule.partitioning !== only) continue;
    const key = slot.rule.key(event, slot.config);
    if (key === null) continue;
    // Expiry is judged at the event's own time, not the watermark: an event that arrives late (a
    // repartitioned stream interleaves partitions) still meets the state its time would have seen.
    // The watermark only drives sweeping (memory) and closing suppression windows.
    const entry = slot.store.get(key, event.occurredAt);
    const r = slot.rule.step(entry, event, slot.config);
    if (r.entry === undefined) {
      if (entry !== undefined) slot.store.delete(key);
    } else {
      slot.store.set(key, r.entry, r.expiresAt ?? Math.max(event.occurredAt, state.watermark) + slot.rule.ttlMs(slot.config));
    }
    if (r.findings) for (const f of r.findings) raise(state, slot, f, event, key, now, alerts);
    slot.store.sweep(state.watermark - (latenessOf.get(state) ?? 0), 4);
  }
  return { state, alerts };
}

/**
 * Advances event time to `watermark` (e.g. the end of a replay, or wall-clock time when a
 * partition is idle) and returns the roll-ups of suppression windows that closed.
 */
export function advance(state: DetectorState, watermark: number, now: number): Alert[] {
  const alerts: Alert[] = [];
  if (watermark > state.watermark) {
    state.watermark = watermark;
    closeWindows(state, now, alerts);
    for (const slot of state.slots) slot.store.sweep(watermark, Number.MAX_SAFE_INTEGER);
  }
  return alerts;
}

/** Keys held per rule store, and how many were evicted by the size bound. */
export function stateStats(state: DetectorState): Record<string, { keys: number; suppressions: number; evictions: number }> {
  return Object.fromEntries(state.slots.map((s) => [s.rule.name, { keys: s.store.size, suppressions: s.suppress.size, evictions: s.store.evictions }]));
}

/* ---------- persistence: snapshots and change journals (plain JSON) ---------- */

/** Snapshot format v1: { v: 1, watermark, offset, stores: { "<rule>": [[key, entry, expiresAt]...], "<rule>#s": suppressions }, seen: the last event ids, oldest first (deduplication; absent in older snapshots) }. */
export interface DetectorSnapshot {
  v: 1;
  watermark: number;
  offset: string | null;
  stores: Record<string, StoreDump<unknown>>;
  seen?: string[];
}

/** One journal record: what changed in one batch ([store, key, value, expiresAt], value null = removed). */
export interface StateChanges {
  watermark: number;
  offset: string | null;
  changes: Array<[store: string, key: string, value: unknown, expiresAt: number]>;
  /** event ids run in the batch (deduplication memory), oldest first */
  seen?: string[];
}

export function snapshotState(state: DetectorState): DetectorSnapshot {
  const stores: Record<string, StoreDump<unknown>> = {};
  for (const s of state.slots) {
    stores[s.rule.name] = s.store.dump();
    stores[`${s.rule.name}#s`] = s.suppress.dump();
    // a snapshot supersedes the changes recorded so far
    s.store.drainChanges();
    s.suppress.drainChanges();
  }
  return { v: 1, watermark: state.watermark, offset: state.offset, stores, seen: state.seen.dump() };
}

function storesOf(state: DetectorState): Map<string, KeyedStore<unknown>> {
  const m = new Map<string, KeyedStore<unknown>>();
  for (const s of state.slots) {
    m.set(s.rule.name, s.store);
    m.set(`${s.rule.name}#s`, s.suppress as KeyedStore<unknown>);
  }
  return m;
}

/** A state from a snapshot. Stores of rules disabled since are dropped; new rules start empty. */
export function restoreState(snapshot: unknown, options: DetectorOptions = {}): DetectorState {
  const snap = snapshot as DetectorSnapshot;
  if (!snap || typeof snap !== 'object' || snap.v !== 1 || typeof snap.stores !== 'object') {
    throw new DetectionStateError(`unsupported detector snapshot (expected format v1)`);
  }
  const state = createDetectorState(options);
  state.watermark = Number(snap.watermark) || 0;
  state.offset = snap.offset ?? null;
  const stores = storesOf(state);
  for (const [name, dump] of Object.entries(snap.stores)) {
    if (!Array.isArray(dump)) throw new DetectionStateError(`snapshot store ${name} is not a list`);
    stores.get(name)?.load(dump);
  }
  state.seen.load(snap.seen);
  return state;
}

/** What changed since the last drain (or snapshot): append it to a journal to make the batch durable. */
export function drainChanges(state: DetectorState): StateChanges {
  const changes: StateChanges['changes'] = [];
  for (const [name, store] of storesOf(state)) {
    for (const [key, slot] of store.drainChanges()) changes.push([name, key, slot ? slot.v : null, slot ? slot.x : 0]);
  }
  const seen = state.seen.drain();
  return { watermark: state.watermark, offset: state.offset, changes, ...(seen.length > 0 ? { seen } : {}) };
}

/** Replays a journal record onto a state (restore = snapshot + every journal record since). */
export function applyChanges(state: DetectorState, record: StateChanges): void {
  const stores = storesOf(state);
  for (const [name, key, value, x] of record.changes) {
    stores.get(name)?.apply(key, value === null ? undefined : ({ v: value, x } as Slot<unknown>));
  }
  state.seen.load(record.seen);
  state.watermark = Math.max(state.watermark, record.watermark);
  state.offset = record.offset;
}

/**
 * The repartition keys an event needs: `ip:<address>` / `client:<client id>` for each enabled rule
 * keyed by IP or client that wants the event. The service re-keys the event onto its repartition
 * topic under each, and runs `detect(state, event, now, 'ip' | 'client')` where it arrives.
 */
export function repartitionKeys(config: ResolvedDetectionConfig, event: AuditEvent): string[] {
  const out: string[] = [];
  for (const rule of RULES) {
    if (rule.partitioning === 'subject') continue;
    const c = config[rule.name];
    if (!c?.enabled) continue;
    const key = rule.key(event, c);
    if (key === null) continue;
    const k = `${rule.partitioning}:${key}`;
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

/** The partitioning a repartition key names (`ip:...` -> 'ip'). */
export function partitioningOfKey(key: string): Partitioning | null {
  const p = key.slice(0, key.indexOf(':')) as Partitioning;
  return REPARTITIONED.includes(p) ? p : null;
}
