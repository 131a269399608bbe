import { clientIp, distanceKm, geoOf, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * impossible-travel: one subject seen at two places whose distance over the time between them
 * needs a speed above `maxSpeedKmh`.
 *
 * Catches: account or token compromise used from another country while the owner is active at
 * home. Geo-IP is coarse (city level, sometimes wrong by hundreds of km) and VPNs / corporate
 * egress move users: `minDistanceKm` ignores short hops, and the severity is medium.
 *
 * State: per subject, the last located sighting (lat, lon, time, event id, IP).
 */
export interface ImpossibleTravelConfig extends CommonRuleConfig {
  maxSpeedKmh: number;
  minDistanceKm: number;
  /** After this long without a located event the previous place is forgotten (ms). */
  memoryMs: number;
}

type Entry = [lat: number, lon: number, at: number, eventId: string, ip: string];

export const impossibleTravel: RuleDefinition<ImpossibleTravelConfig, Entry> = {
  id: 'impossible-travel',
  name: 'impossible-travel',
  partitioning: 'subject',
  catches: 'one subject at two places too far apart for the time between them: credentials or tokens used by someone else',
  defaults: { enabled: true, severity: 'medium', suppressMs: 60 * 60_000, maxKeys: 1_000_000, maxSpeedKmh: 900, minDistanceKm: 300, memoryMs: 24 * 3_600_000 },
  // only verified events: a rejected token's sub is whatever its sender wrote
  key: (e) => (e.actor.sub && isVerified(e) && geoOf(e) ? e.actor.sub : null),
  ttlMs: (c) => c.memoryMs,
  step(entry, e, c) {
    const here = geoOf(e)!;
    const ip = clientIp(e) ?? '';
    const next: Entry = [here.lat, here.lon, e.occurredAt, e.id, ip];
    if (!entry) return { entry: next };
    if (e.occurredAt < entry[2]) return { entry }; // late event: the newer place stays the reference
    const km = distanceKm({ lat: entry[0], lon: entry[1] }, here);
    const hours = (e.occurredAt - entry[2]) / 3_600_000;
    const speed = hours > 0 ? km / hours : Number.POSITIVE_INFINITY;
    if (km >= c.minDistanceKm && speed > c.maxSpeedKmh) {
      return {
        entry: next,
        findings: [{
          evidence: [entry[3], e.id], count: 2, windowMs: e.occurredAt - entry[2], firstSeen: entry[2],
          description: `subject ${e.actor.sub} moved ${Math.round(km)} km in ${Math.round(hours * 60)} min (${Number.isFinite(speed) ? Math.round(speed) : '∞'} km/h) from ${entry[4] || '?'} to ${ip || '?'}`,
          attributes: { distanceKm: String(Math.round(km)), speedKmh: Number.isFinite(speed) ? String(Math.round(speed)) : 'inf', fromIp: entry[4] },
        }],
      };
    }
    return { entry: next };
  },
};
