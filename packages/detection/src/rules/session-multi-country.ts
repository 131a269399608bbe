import { isVerified, sessionIdOf } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * session-multi-country: one session (sid, or refresh-token family) used from IP addresses in
 * more than one country (the enricher's geo-IP).
 *
 * Catches: a session token copied to another machine abroad (cookie theft, token relay) while the
 * owner keeps using it; impossible-travel sees the subject, this sees the one session, so two
 * devices of one user in two countries (each its own session) do not raise it. Needs a geo-IP
 * database on the enricher; without one nothing is located and the rule is silent. VPN exits and
 * roaming move a session too: severity medium.
 *
 * State: per session id, the countries seen (at most 8) and the first event of each.
 */
export interface SessionMultiCountryConfig extends CommonRuleConfig {
  retainMs: number;
}

type Entry = { c: string[]; e: string[] };
const MAX_COUNTRIES = 8;

export const sessionMultiCountry: RuleDefinition<SessionMultiCountryConfig, Entry> = {
  id: 'session-multi-country',
  name: 'session-multi-country',
  partitioning: 'subject',
  catches: 'one session used from more than one country: a session token copied and used elsewhere',
  respond: 'compare the countries with where the user is; if not theirs, end the session and revoke its tokens',
  defaults: { enabled: true, severity: 'medium', suppressMs: 6 * 3_600_000, maxKeys: 100_000, retainMs: 24 * 3_600_000 },
  key: (e) => (isVerified(e) && e.enrichment?.geo?.countryIso ? sessionIdOf(e) : null),
  ttlMs: (c) => c.retainMs,
  step(entry, e) {
    const country = e.enrichment!.geo!.countryIso!.slice(0, 8);
    const cur = entry ?? { c: [], e: [] };
    if (cur.c.includes(country) || cur.c.length >= MAX_COUNTRIES) return { entry: cur };
    cur.c.push(country);
    cur.e.push(e.id);
    if (cur.c.length < 2) return { entry: cur };
    return {
      entry: cur,
      findings: [{
        evidence: [...cur.e], count: cur.c.length, windowMs: 0, firstSeen: e.occurredAt,
        description: `session ${sessionIdOf(e)} of ${e.actor.sub} used from ${cur.c.length} countries: ${cur.c.join(', ')}`,
        attributes: { countries: cur.c.join(',') },
      }],
    };
  },
};
