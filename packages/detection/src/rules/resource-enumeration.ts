import { clientIp, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * resource-enumeration: one subject (or, unauthenticated, one IP) asks for many distinct
 * resources that the upstream refuses (403) or does not have (404) within a window.
 *
 * Catches: walking identifiers (sequential order or user ids: IDOR / BOLA probing, OWASP API1),
 * scraping by guessing, directory brute force. A user follows links and mistypes the odd URL;
 * an enumerator asks for hundreds of ids, most of them not theirs.
 *
 * State: per key, the distinct refused paths (bounded by the threshold) with times and event ids.
 */
export interface ResourceEnumerationConfig extends CommonRuleConfig {
  /** Distinct refused (403/404) paths within the window. */
  threshold: number;
  windowMs: number;
}

interface Entry {
  p: Array<[path: string, at: number, eventId: string]>;
  ok: number;
}

export const resourceEnumeration: RuleDefinition<ResourceEnumerationConfig, Entry> = {
  id: 'resource-enumeration',
  name: 'resource-enumeration',
  partitioning: 'subject',
  catches: 'many distinct resources refused (403) or not found (404) for one subject or IP: id enumeration, scraping, IDOR probing',
  respond:
    'check whether any of the enumerated ids was served (200s between the refusals): that is a broken object-level authorization; suspend the session and fix the route',
  defaults: { enabled: true, severity: 'high', suppressMs: 60 * 60_000, maxKeys: 200_000, threshold: 40, windowMs: 15 * 60_000 },
  key(e) {
    const status = e.http?.response?.status;
    if (status !== 403 && status !== 404) return null;
    if (e.kind === 'token.validated' || (e.kind === 'http.exchange' && e.attributes['auth.rejection'] === undefined)) {
      if (e.actor.sub && isVerified(e)) return `s:${e.actor.sub}`;
      const ip = clientIp(e);
      return e.token === null && ip ? `ip:${ip}` : null;
    }
    return null;
  },
  ttlMs: (c) => c.windowMs,
  step(entry, e, c) {
    const st: Entry = entry ?? { p: [], ok: 0 };
    const path = e.http!.request.path;
    st.p = st.p.filter((x) => x[1] > e.occurredAt - c.windowMs);
    if (st.p.some((x) => x[0] === path)) return { entry: st };
    st.p.push([path, e.occurredAt, e.id]);
    if (st.p.length > c.threshold) st.p.shift();
    if (st.p.length < c.threshold) return { entry: st };
    const routes = [...new Set(st.p.map((x) => x[0].replace(/\/[^/]*\d[^/]*$/, '/{id}')))];
    return {
      entry: st,
      findings: [
        {
          evidence: st.p.map((x) => x[2]),
          count: st.p.length,
          windowMs: c.windowMs,
          firstSeen: st.p[0]![1],
          keys: { jti: null },
          description: `${e.actor.sub ? `subject ${e.actor.sub}` : `IP ${clientIp(e)}`} was refused or not found on ${st.p.length} distinct resources within ${Math.round(c.windowMs / 60_000)} min (${routes.slice(0, 3).join(', ')}), e.g. ${st.p[0]![0]} .. ${path}`,
          attributes: { routes: routes.slice(0, 5).join(','), first: st.p[0]![0], last: path },
        },
      ],
    };
  },
};
