import { open, Reader, type AsnResponse, type CityResponse } from 'maxmind';
import type { Asn, Geo } from '@jwt-audit/events';

export type GeoLookup = (ip: string) => Geo | null;
export type AsnLookup = (ip: string) => Asn | null;

/**
 * Reads a MaxMind-format database (GeoLite2/GeoIP2 City or Country, or any DB with the same
 * record shape) through the `maxmind` package. English names are used.
 */
export function geoFromReader(reader: Reader<CityResponse>): GeoLookup {
  return (ip) => {
    const r = reader.get(ip);
    if (!r) return null;
    const country = r.country ?? r.registered_country;
    const geo: Geo = {
      countryIso: country?.iso_code ?? null,
      country: country?.names?.en ?? null,
      city: r.city?.names?.en ?? null,
      lat: r.location?.latitude ?? null,
      lon: r.location?.longitude ?? null,
    };
    return geo.countryIso || geo.city || geo.lat !== null ? geo : null;
  };
}

/** GeoLite2/GeoIP2 ASN records (autonomous_system_number / _organization). */
export function asnFromReader(reader: Reader<AsnResponse>): AsnLookup {
  return (ip) => {
    const r = reader.get(ip);
    if (!r || typeof r.autonomous_system_number !== 'number') return null;
    return { number: r.autonomous_system_number, org: r.autonomous_system_organization ?? null };
  };
}

/** Opens the configured databases (either may be absent); `watch` reloads a file replaced on disk. */
export async function openGeoDatabases(
  paths: { geo?: string | null; asn?: string | null },
  opts: { watch?: boolean } = {},
): Promise<{ geo: GeoLookup | null; asn: AsnLookup | null }> {
  const o = { cache: { max: 10_000 }, ...(opts.watch ? { watchForUpdates: true, watchForUpdatesNonPersistent: true } : {}) };
  const [geo, asn] = await Promise.all([paths.geo ? open<CityResponse>(paths.geo, o) : null, paths.asn ? open<AsnResponse>(paths.asn, o) : null]);
  return { geo: geo ? geoFromReader(geo) : null, asn: asn ? asnFromReader(asn) : null };
}
