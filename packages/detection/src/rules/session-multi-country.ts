import { asnOf, deviceOf, isVerified, sessionIdOf } from '../event-facts.js';
import { UNLOCATABLE_ASNS } from './impossible-travel.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * session-multi-country: one session (sid, or refresh-token family) used in two countries by two
 * different devices (the enricher's geo-IP and user-agent parsing).
 *
 * Catches: a session token copied to another machine abroad (cookie theft, token relay).
 * impossible-travel sees the subject, this sees the one session, so two devices of one user in two
 * countries (each its own session) do not raise it.
 *
 * Not a copy: one device whose session moves between countries. A traveller's laptop carries its
 * session abroad; a phone on home Wi-Fi and on a carrier whose addresses geolocate to a hub in the
 * next country (Orange's Lyon hub for phones in Madrid) alternates between two countries all day.
 * A session is bound to the browser or app that holds it, so a second country only counts when the
 * device there was not the one seen in the other country. Networks that do not say where the user
 * is (VPN exits, mobile carriers, in-flight Wi-Fi: impossible-travel's `unlocatableAsns`) locate
 * nothing. The realistic evaluation (bench/realistic) measured the cost of leaving either out: 52
 * false alerts of 55 over two days (VPN exits, in-flight Wi-Fi, carrier hubs, travellers).
 *
 * Misses: a thief who replays the victim's exact browser string from abroad; token-multi-origin and
 * impossible-travel see that one. Needs a geo-IP database on the enricher; without one nothing is
 * located and the rule is silent.
 *
 * State: per session id, up to 8 (country, device, first event id) places.
 */
export interface SessionMultiCountryConfig extends CommonRuleConfig {
  retainMs: number;
  /** Networks whose addresses do not locate the user (AS numbers, as strings); as impossible-travel's. */
  unlocatableAsns: string[];
}

type Place = [country: string, device: string, eventId: string];
type Entry = Place[];
const MAX_PLACES = 8;

export const sessionMultiCountry: RuleDefinition<SessionMultiCountryConfig, Entry> = {
  id: 'session-multi-country',
  name: 'session-multi-country',
  partitioning: 'subject',
  catches: 'one session used in two countries by two different devices: a session token copied and used elsewhere',
  respond: 'compare the countries and devices with where the user is and what they use; if not theirs, end the session and revoke its tokens',
  defaults: { enabled: true, severity: 'medium', suppressMs: 6 * 3_600_000, maxKeys: 100_000, retainMs: 24 * 3_600_000, unlocatableAsns: UNLOCATABLE_ASNS },
  key: (e, c) => (isVerified(e) && e.enrichment?.geo?.countryIso && !c.unlocatableAsns.includes(String(asnOf(e))) ? sessionIdOf(e) : null),
  ttlMs: (c) => c.retainMs,
  step(entry, e) {
    const country = e.enrichment!.geo!.countryIso!.slice(0, 8);
    const device = (deviceOf(e) ?? 'no user agent').slice(0, 200);
    const places = entry ?? [];
    if (places.some((p) => p[0] === country && p[1] === device) || places.length >= MAX_PLACES) return { entry: places };
    // a device seen in another country is the session travelling with its device
    const travelled = places.some((p) => p[1] === device && p[0] !== country);
    const elsewhere = travelled ? [] : places.filter((p) => p[0] !== country && p[1] !== device);
    places.push([country, device, e.id]);
    if (elsewhere.length === 0) return { entry: places };
    const other = elsewhere[elsewhere.length - 1]!;
    return {
      entry: places,
      findings: [
        {
          evidence: [other[2], e.id],
          count: 2,
          windowMs: 0,
          firstSeen: e.occurredAt,
          description: `session ${sessionIdOf(e)} of ${e.actor.sub} used in ${other[0]} by ${other[1]} and in ${country} by ${device}`,
          attributes: { countries: `${other[0]},${country}`, devices: `${other[1]} / ${device}` },
        },
      ],
    };
  },
};
