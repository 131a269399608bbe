import type { AlertKeys, AuditEvent, Severity } from '@jwt-audit/events';

/** The rule ids, as they appear in `Alert.rule`. */
export const RULE_IDS = [
  'revoked-token-use',
  'refresh-token-reuse',
  'token-multi-origin',
  'impossible-travel',
  'auth-failure-burst',
  'token-tampering',
  'expired-token-replay',
  'privilege-change-in-session',
  'long-lived-token',
  'issuance-spike',
  'deprovisioned-subject-activity',
  'new-device-for-subject',
  'unexpected-issuer',
  'token-guessing',
  'response-volume',
  'resource-enumeration',
  'unusual-hour',
  'session-activity-after-end',
  'session-multi-country',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/**
 * Which key a rule's state is partitioned by. Input events are partitioned by subject; a rule
 * keyed by IP or OAuth client sees all of that key's events only after a repartition (the
 * detector service re-keys the events those rules want onto a repartition topic).
 */
export type Partitioning = 'subject' | 'ip' | 'client' | 'network' | 'login';
/** The partitionings that need a repartition topic (their keys are written `<partitioning>:<key>`). */
export const REPARTITIONED: readonly Partitioning[] = ['ip', 'client', 'network', 'login'];

/** Settings every rule has. */
export interface CommonRuleConfig {
  enabled: boolean;
  severity: Severity;
  /** Further matches for the same rule and key within this much event time fold into one alert (ms). */
  suppressMs: number;
  /** Most keys this rule keeps state for (per detector state, i.e. per input partition); least recently used go first. */
  maxKeys: number;
}

/** What a rule reports; the detector turns it into an Alert (suppression, ids, defaults). */
export interface Finding {
  /** Overrides the rule's configured severity. */
  severity?: Severity;
  /** Suppression key; default: the rule's state key for the event. */
  suppressKey?: string;
  /** Alert keys; unset ones are taken from the triggering event. `null` clears one. */
  keys?: Partial<AlertKeys>;
  /** Event ids, oldest first; the triggering event is added when absent. */
  evidence: string[];
  /** Matching events in the window. */
  count: number;
  /** The window the count was taken over (ms); 0 for single-event findings. */
  windowMs: number;
  firstSeen: number;
  description: string;
  attributes?: Record<string, string>;
}

/** One step of a rule over one key's state. `entry: undefined` removes the key. */
export interface StepResult<E> {
  entry: E | undefined;
  findings?: Finding[];
  /** Event time after which the entry is of no use (default: event time + the rule's ttlMs). */
  expiresAt?: number;
}

/**
 * A rule: a pure function over one key's state. `key` picks the state an event belongs to (or
 * null: the event does not concern the rule); `step` reads the entry (undefined when new) and
 * returns the next one and any findings. Entries must be plain JSON data (they are snapshotted).
 * Steps may update the entry in place and return it: the store owns it.
 */
export interface RuleDefinition<C extends CommonRuleConfig = CommonRuleConfig, E = unknown> {
  id: RuleId;
  /** Unique store name; the rule id, or `<id>/<variant>` for a rule with several keyings. */
  name: string;
  partitioning: Partitioning;
  /** The attack it catches, for docs and `--help`. */
  catches: string;
  /** What an analyst should do first (copied into each alert's attributes.response). */
  respond?: string;
  defaults: C;
  key(event: AuditEvent, config: C): string | null;
  /** Event time an untouched entry stays (ms). */
  ttlMs(config: C): number;
  step(entry: E | undefined, event: AuditEvent, config: C): StepResult<E>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRule = RuleDefinition<any, any>;
