import type { AuditEvent } from '@jwt-audit/events';
import { asnOf, clientIp, isAuthFailure, loginFailureOf, pushWindow, type TimeWindow } from '../event-facts.js';
import type { CommonRuleConfig, Partitioning, RuleDefinition } from '../types.js';

/**
 * auth-failure-burst: authentication failures beyond a threshold within a window, counted per
 * subject, per client IP, per attempted username and per network (four keyings of one rule).
 *
 * Catches: brute force and credential stuffing at the token endpoint (a wrong password is
 * answered 400 `invalid_grant` or 401, whatever the status), token guessing or spraying forged
 * or stolen tokens across many accounts from one source (per IP), one account attacked from
 * many addresses, slowly (per username: failed logins carry no subject, so the attempted
 * username, masked to a keyed hash, is the key), and stuffing spread over hundreds of
 * addresses, one or two tries per address per minute (per network: many distinct usernames
 * failing from one AS). Insufficient-scope rejections are privilege probing and are counted by
 * privilege-change-in-session instead.
 *
 * Not an attack: a typo now and then, or an office of hundreds behind one NAT address: the
 * per-IP threshold is well above what one address of people produces, and the per-network
 * keying needs many distinct usernames, not many failures.
 *
 * The per-IP, per-username and per-network keyings need events re-keyed (repartitioned): one
 * source's failures are spread over partitions. Windows are kept in event-time order and evicted
 * against their newest event, so interleaved partitions cannot stretch a window.
 *
 * State: per key, the times (and event ids) of the last `threshold` failures in the window; per
 * network, also the distinct usernames.
 */
export interface AuthFailureBurstConfig extends CommonRuleConfig {
  threshold: number;
  windowMs: number;
}
export interface NetworkFailureConfig extends AuthFailureBurstConfig {
  /** Distinct attempted usernames among the failures that make it stuffing. */
  minUsernames: number;
}

const anyFailure = (e: AuditEvent) => isAuthFailure(e) || loginFailureOf(e) !== null;

function burst(
  name: string,
  partitioning: Partitioning,
  key: (e: AuditEvent) => string | null,
  defaults: AuthFailureBurstConfig,
  what: string,
): RuleDefinition<AuthFailureBurstConfig, TimeWindow> {
  return {
    id: 'auth-failure-burst',
    name,
    partitioning,
    catches: `authentication failures beyond a threshold per ${what}: brute force, credential stuffing, token guessing`,
    respond:
      what === 'username' || what === 'subject'
        ? 'the account is under attack: make sure it has MFA, lock it or step up authentication for it, and block the sources below'
        : 'block or rate-limit the source below at the edge; check whether any attempt from it succeeded (a login for a subject right after)',
    defaults,
    key: (e) => (anyFailure(e) ? key(e) : null),
    ttlMs: (c) => c.windowMs,
    step(entry, e, c) {
      const w = pushWindow(entry, e.occurredAt, e.id, c.windowMs, c.threshold);
      if (w.t.length < c.threshold) return { entry: w };
      const k = key(e)!;
      const span = w.t[w.t.length - 1]! - w.t[0]!;
      return {
        entry: w,
        findings: [
          {
            evidence: [...w.ids],
            count: w.t.length,
            windowMs: c.windowMs,
            firstSeen: w.t[0]!,
            keys: partitioning === 'subject' ? { jti: null, familyId: null, sessionId: null } : { subject: null, jti: null, familyId: null, sessionId: null },
            description: `${w.t.length} authentication failures for ${what} ${k} within ${Math.round(span / 1000)} s`,
            attributes: { keyedBy: what, reason: e.rejection?.reason ?? `http ${e.http?.response?.status ?? '?'}`, spanSec: String(Math.round(span / 1000)) },
          },
        ],
      };
    },
  };
}

interface NetworkEntry {
  w: TimeWindow;
  /** distinct usernames in the window: [username, last time] */
  u: Array<[string, number]>;
}

export const authFailureBurstByIp = burst(
  'auth-failure-burst/ip',
  'ip',
  clientIp,
  { enabled: true, severity: 'high', suppressMs: 10 * 60_000, maxKeys: 200_000, threshold: 20, windowMs: 60_000 },
  'IP',
);
export const authFailureBurstBySubject = burst(
  'auth-failure-burst/subject',
  'subject',
  (e) => e.actor.sub,
  { enabled: true, severity: 'medium', suppressMs: 10 * 60_000, maxKeys: 200_000, threshold: 10, windowMs: 5 * 60_000 },
  'subject',
);
export const authFailureBurstByLogin = burst(
  'auth-failure-burst/login',
  'login',
  (e) => loginFailureOf(e)?.username ?? null,
  { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 200_000, threshold: 10, windowMs: 30 * 60_000 },
  'username',
);

export const authFailureBurstByNetwork: RuleDefinition<NetworkFailureConfig, NetworkEntry> = {
  id: 'auth-failure-burst',
  name: 'auth-failure-burst/network',
  partitioning: 'network',
  catches: 'failed logins for many distinct usernames from one network (AS), however spread over its addresses: credential stuffing',
  respond:
    'credential stuffing from the network below: rate-limit or challenge logins from it, and check the accounts that succeeded from it in the window for takeover',
  defaults: { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 50_000, threshold: 30, windowMs: 60 * 60_000, minUsernames: 20 },
  key: (e) => (loginFailureOf(e) !== null && asnOf(e) !== null ? `AS${asnOf(e)}` : null),
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const st: NetworkEntry = entry ?? { w: { t: [], ids: [] }, u: [] };
    st.w = pushWindow(st.w, e.occurredAt, e.id, c.windowMs, c.threshold);
    const newest = st.w.t[st.w.t.length - 1]!;
    st.u = st.u.filter((x) => x[1] > newest - c.windowMs);
    const user = loginFailureOf(e)?.username ?? null;
    if (user !== null) {
      const hit = st.u.find((x) => x[0] === user);
      if (hit) hit[1] = Math.max(hit[1], e.occurredAt);
      else st.u.push([user, e.occurredAt]);
      if (st.u.length > c.minUsernames) st.u.shift();
    }
    if (st.w.t.length < c.threshold || st.u.length < c.minUsernames) return { entry: st };
    const span = newest - st.w.t[0]!;
    return {
      entry: st,
      findings: [
        {
          evidence: [...st.w.ids],
          count: st.w.t.length,
          windowMs: c.windowMs,
          firstSeen: st.w.t[0]!,
          keys: { subject: null, jti: null, familyId: null, sessionId: null },
          description: `${st.w.t.length} failed logins for at least ${st.u.length} distinct usernames from network AS${asnOf(e)} (${e.enrichment?.asn?.org ?? '?'}) within ${Math.round(span / 60_000)} min: credential stuffing`,
          attributes: { keyedBy: 'network', asn: String(asnOf(e)), distinctUsernames: String(st.u.length), spanSec: String(Math.round(span / 1000)) },
        },
      ],
    };
  },
};
