import { asnOf, clientIp, distanceKm, geoOf, isVerified } from '../event-facts.js';

/**
 * Mobile carriers (Vodafone DE 3209, EE 12576, T-Mobile US 21928, Verizon Wireless 22394, AT&T
 * Mobility 20057, Telefonica Germany 6805), VPN hosting exits (M247 9009, Datacamp 60068 /
 * 212238), in-flight Wi-Fi (Viasat 7155). Operators that use one AS for fixed and mobile lines
 * (Orange 3215) cannot be listed: `minDistanceKm` absorbs their hub error. Replace with your
 * own data where you have it.
 */
export const UNLOCATABLE_ASNS = ['3209', '12576', '21928', '22394', '20057', '6805', '9009', '60068', '212238', '7155'];
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * impossible-travel: one subject seen at two places whose distance over the time between them
 * needs a speed above `maxSpeedKmh`.
 *
 * Catches: account or token compromise used from another country while the owner is active at
 * home. Geo-IP is coarse (city level, sometimes wrong by hundreds of km) and VPNs / corporate
 * egress move users: `minDistanceKm` (default 500 km: a national carrier's hub can be ~480 km
 * from its user) ignores short hops, networks that do not locate anyone are skipped, and the
 * severity is medium.
 *
 * Not travel: a subject seen alternately at places it has been seen at before. A phone whose
 * carrier geolocates to a hub city and a desktop at home show two places all day; a commuter
 * shows home and office. A jump between two known places of the subject raises nothing; a jump
 * to a place never seen for the subject does.
 *
 * State: per subject, the last located sighting (lat, lon, time, event id, IP) and up to 8
 * places seen before.
 */
export interface ImpossibleTravelConfig extends CommonRuleConfig {
  maxSpeedKmh: number;
  minDistanceKm: number;
  /** After this long without a located event the previous place is no reference (ms). */
  memoryMs: number;
  /** Places a subject was seen at are remembered this long after its last located event (ms). */
  knownPlacesMs: number;
  /**
   * Networks whose addresses do not say where the user is (AS numbers, as strings): mobile
   * carriers (CGNAT addresses geolocate to the carrier's hub, often hundreds of km away), VPN
   * and privacy-relay exits, in-flight Wi-Fi (the provider's ground station). Sightings from
   * them are skipped: they neither alert nor become the reference place. The defaults are a
   * starter set of well-known ones; add your users' carriers and your corporate VPN.
   */
  unlocatableAsns: string[];
}

/** The last located sighting, and the places the subject was seen at before (rounded lat, lon). */
type Entry = [lat: number, lon: number, at: number, eventId: string, ip: string, known?: Array<[number, number]>];

/** Places within this distance of a known one are that place (city-level geolocation). */
const SAME_PLACE_KM = 100;

function learn(known: Array<[number, number]>, lat: number, lon: number): boolean {
  if (known.some((k) => distanceKm({ lat: k[0], lon: k[1] }, { lat, lon }) < SAME_PLACE_KM)) return false;
  known.push([Math.round(lat * 10) / 10, Math.round(lon * 10) / 10]);
  if (known.length > 8) known.shift();
  return true;
}

export const impossibleTravel: RuleDefinition<ImpossibleTravelConfig, Entry> = {
  id: 'impossible-travel',
  name: 'impossible-travel',
  partitioning: 'subject',
  catches: 'one subject at two places too far apart for the time between them: credentials or tokens used by someone else',
  defaults: {
    enabled: true,
    severity: 'medium',
    suppressMs: 60 * 60_000,
    maxKeys: 1_000_000,
    maxSpeedKmh: 900,
    minDistanceKm: 500,
    memoryMs: 24 * 3_600_000,
    knownPlacesMs: 30 * 86_400_000,
    unlocatableAsns: UNLOCATABLE_ASNS,
  },
  respond: 'ask the subject whether they are travelling or use a VPN; if not, revoke the sessions seen from the far place and reset the password',
  // only verified events: a rejected token's sub is whatever its sender wrote
  key: (e, c) => (e.actor.sub && isVerified(e) && geoOf(e) && !c.unlocatableAsns.includes(String(asnOf(e))) ? e.actor.sub : null),
  ttlMs: (c) => Math.max(c.memoryMs, c.knownPlacesMs),
  step(entry, e, c) {
    const here = geoOf(e)!;
    const ip = clientIp(e) ?? '';
    const known = entry?.[5] ?? [];
    if (entry && known.length === 0) learn(known, entry[0], entry[1]);
    const isNew = learn(known, here.lat, here.lon);
    const next: Entry = [here.lat, here.lon, e.occurredAt, e.id, ip, known];
    if (!entry) return { entry: next };
    if (e.occurredAt < entry[2]) return { entry: [entry[0], entry[1], entry[2], entry[3], entry[4], known] }; // late event: the newer place stays the reference
    if (e.occurredAt - entry[2] > c.memoryMs) return { entry: next }; // the last place is too old to say anything
    if (!isNew) return { entry: next };
    const km = distanceKm({ lat: entry[0], lon: entry[1] }, here);
    const hours = (e.occurredAt - entry[2]) / 3_600_000;
    const speed = hours > 0 ? km / hours : Number.POSITIVE_INFINITY;
    if (km >= c.minDistanceKm && speed > c.maxSpeedKmh) {
      return {
        entry: next,
        findings: [
          {
            evidence: [entry[3], e.id],
            count: 2,
            windowMs: e.occurredAt - entry[2],
            firstSeen: entry[2],
            description: `subject ${e.actor.sub} moved ${Math.round(km)} km in ${Math.round(hours * 60)} min (${Number.isFinite(speed) ? Math.round(speed) : '∞'} km/h) from ${entry[4] || '?'} to ${ip || '?'}`,
            attributes: {
              distanceKm: String(Math.round(km)),
              speedKmh: Number.isFinite(speed) ? String(Math.round(speed)) : 'inf',
              fromIp: entry[4],
              toIp: ip,
            },
          },
        ],
      };
    }
    return { entry: next };
  },
};
