import maxmind, { type AsnResponse, type CityResponse, type Reader } from 'maxmind';
import type { Asn, Geo } from '@jwt-audit/events';
import type { Lookups } from './enrich.js';

/** Opens MaxMind-format databases (GeoLite2/GeoIP2 City and ASN; any MMDB with those shapes). */
export async function openMaxmind(paths: { city?: string; asn?: string }): Promise<Lookups> {
  const city: Reader<CityResponse> | undefined = paths.city ? await maxmind.open<CityResponse>(paths.city) : undefined;
  const asn: Reader<AsnResponse> | undefined = paths.asn ? await maxmind.open<AsnResponse>(paths.asn) : undefined;
  return {
    ...(city
      ? {
          geo: (ip: string): Geo | null => {
            const r = city.get(ip);
            if (!r) return null;
            return {
              countryIso: r.country?.iso_code ?? null,
              country: r.country?.names?.en ?? null,
              city: r.city?.names?.en ?? null,
              lat: r.location?.latitude ?? null,
              lon: r.location?.longitude ?? null,
            };
          },
        }
      : {}),
    ...(asn
      ? {
          asn: (ip: string): Asn | null => {
            const r = asn.get(ip);
            return r ? { number: r.autonomous_system_number, org: r.autonomous_system_organization ?? null } : null;
          },
        }
      : {}),
  };
}
