import type { Asn, Geo } from '@jwt-audit/events';

/**
 * The simulated internet of the realistic evaluation: cities, networks (by kind: eyeball ISPs,
 * mobile carriers behind carrier-grade NAT whose addresses geolocate to a hub city far from the
 * user, VPN exits, hosting/cloud, in-flight Wi-Fi, residential proxies) and the address blocks
 * they own. `geoLookup` / `asnLookup` play the GeoIP databases the enricher reads, with the same
 * failure modes real ones have: a carrier's addresses placed at its hub, a VPN's at its exit,
 * in-flight Wi-Fi at the provider's ground station.
 *
 * AS numbers are the real ones of the operators named (public registry facts); the address
 * blocks are invented (each network gets /16s of its own), so nothing here is a real lookup.
 */

export interface City {
  name: string;
  iso: string;
  country: string;
  lat: number;
  lon: number;
}

export const CITIES = {
  berlin: { name: 'Berlin', iso: 'DE', country: 'Germany', lat: 52.52, lon: 13.405 },
  hamburg: { name: 'Hamburg', iso: 'DE', country: 'Germany', lat: 53.551, lon: 9.994 },
  munich: { name: 'Munich', iso: 'DE', country: 'Germany', lat: 48.137, lon: 11.575 },
  dusseldorf: { name: 'Dusseldorf', iso: 'DE', country: 'Germany', lat: 51.228, lon: 6.773 },
  frankfurt: { name: 'Frankfurt', iso: 'DE', country: 'Germany', lat: 50.11, lon: 8.682 },
  leipzig: { name: 'Leipzig', iso: 'DE', country: 'Germany', lat: 51.34, lon: 12.375 },
  paris: { name: 'Paris', iso: 'FR', country: 'France', lat: 48.857, lon: 2.352 },
  lyon: { name: 'Lyon', iso: 'FR', country: 'France', lat: 45.764, lon: 4.836 },
  london: { name: 'London', iso: 'GB', country: 'United Kingdom', lat: 51.507, lon: -0.128 },
  manchester: { name: 'Manchester', iso: 'GB', country: 'United Kingdom', lat: 53.48, lon: -2.242 },
  madrid: { name: 'Madrid', iso: 'ES', country: 'Spain', lat: 40.417, lon: -3.704 },
  amsterdam: { name: 'Amsterdam', iso: 'NL', country: 'Netherlands', lat: 52.368, lon: 4.904 },
  zurich: { name: 'Zurich', iso: 'CH', country: 'Switzerland', lat: 47.377, lon: 8.541 },
  newYork: { name: 'New York', iso: 'US', country: 'United States', lat: 40.713, lon: -74.006 },
  ashburn: { name: 'Ashburn', iso: 'US', country: 'United States', lat: 39.044, lon: -77.487 },
  carlsbad: { name: 'Carlsbad', iso: 'US', country: 'United States', lat: 33.158, lon: -117.35 },
  saoPaulo: { name: 'Sao Paulo', iso: 'BR', country: 'Brazil', lat: -23.55, lon: -46.633 },
  hanoi: { name: 'Hanoi', iso: 'VN', country: 'Vietnam', lat: 21.028, lon: 105.834 },
  lagos: { name: 'Lagos', iso: 'NG', country: 'Nigeria', lat: 6.524, lon: 3.379 },
} satisfies Record<string, City>;

export type NetworkKind = 'isp' | 'carrier' | 'vpn' | 'hosting' | 'inflight' | 'office';

export interface Network {
  name: string;
  kind: NetworkKind;
  asn: number;
  org: string;
  /** Where its addresses geolocate (a carrier's hub, a VPN exit, a data centre). */
  city: City;
  /** First two octets of its /16. */
  block: string;
}

let blockCounter = 0;
// public, non-special first octets: 2, 5, 31, 37, 46, 62, 77-95 ... enough distinct /16s
const FIRST_OCTETS = [5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95];
function nextBlock(): string {
  const i = blockCounter++;
  return `${FIRST_OCTETS[i % FIRST_OCTETS.length]}.${10 + Math.floor(i / FIRST_OCTETS.length)}`;
}

const networks: Network[] = [];
const byBlock = new Map<string, Network>();
export function network(name: string, kind: NetworkKind, asn: number, org: string, city: City): Network {
  const n: Network = { name, kind, asn, org, city, block: nextBlock() };
  networks.push(n);
  byBlock.set(n.block, n);
  return n;
}

/** An address in a network: host number picked by the caller (stable per device / pod / NAT). */
export function addressIn(n: Network, host: number): string {
  const h = (Math.abs(Math.floor(host)) % 65_534) + 1;
  return `${n.block}.${h >> 8}.${h & 255 || 1}`;
}

export function geoLookup(ip: string): Geo | null {
  const n = byBlock.get(ip.split('.').slice(0, 2).join('.'));
  return n ? { countryIso: n.city.iso, country: n.city.country, city: n.city.name, lat: n.city.lat, lon: n.city.lon } : null;
}

export function asnLookup(ip: string): Asn | null {
  const n = byBlock.get(ip.split('.').slice(0, 2).join('.'));
  return n ? { number: n.asn, org: n.org } : null;
}

export const NETWORKS = {
  // eyeball ISPs: home broadband, one address per household for days
  dtag: network('dtag', 'isp', 3320, 'Deutsche Telekom AG', CITIES.berlin),
  dtagHamburg: network('dtag-hh', 'isp', 3320, 'Deutsche Telekom AG', CITIES.hamburg),
  dtagMunich: network('dtag-muc', 'isp', 3320, 'Deutsche Telekom AG', CITIES.munich),
  orange: network('orange', 'isp', 3215, 'Orange S.A.', CITIES.paris),
  orangeLyon: network('orange-lyon', 'isp', 3215, 'Orange S.A.', CITIES.lyon),
  bt: network('bt', 'isp', 2856, 'British Telecommunications PLC', CITIES.london),
  btManchester: network('bt-man', 'isp', 2856, 'British Telecommunications PLC', CITIES.manchester),
  comcast: network('comcast', 'isp', 7922, 'Comcast Cable Communications', CITIES.newYork),
  telefonica: network('telefonica', 'isp', 3352, 'Telefonica de Espana', CITIES.madrid),
  // a residential ISP 240 km from Berlin: where a stolen token is used "nearby" with the victim's browser
  dtagLeipzig: network('dtag-lej', 'isp', 3320, 'Deutsche Telekom AG', CITIES.leipzig),
  // offices behind NAT: hundreds of people on one address
  officeBerlin: network('office-berlin', 'office', 3320, 'Deutsche Telekom AG', CITIES.berlin),
  officeLondon: network('office-london', 'office', 2856, 'British Telecommunications PLC', CITIES.london),
  officeParis: network('office-paris', 'office', 3215, 'Orange S.A.', CITIES.paris),
  officeMunich: network('office-munich', 'office', 3320, 'Deutsche Telekom AG', CITIES.munich),
  officeNewYork: network('office-nyc', 'office', 7922, 'Comcast Cable Communications', CITIES.newYork),
  // mobile carriers: CGNAT addresses rotate every few minutes and geolocate to the carrier's hub
  vodafoneDe: network('vodafone-de', 'carrier', 3209, 'Vodafone GmbH', CITIES.dusseldorf),
  ee: network('ee', 'carrier', 12576, 'EE Limited', CITIES.manchester),
  orangeMobile: network('orange-mobile', 'carrier', 3215, 'Orange S.A.', CITIES.lyon),
  tmobileUs: network('tmobile-us', 'carrier', 21928, 'T-Mobile USA', CITIES.ashburn),
  // a corporate / consumer VPN: exits in other countries
  vpnAmsterdam: network('vpn-ams', 'vpn', 9009, 'M247 Europe SRL', CITIES.amsterdam),
  vpnZurich: network('vpn-zrh', 'vpn', 9009, 'M247 Europe SRL', CITIES.zurich),
  vpnNewYork: network('vpn-nyc', 'vpn', 9009, 'M247 Europe SRL', CITIES.newYork),
  // clouds: the service clients' pods, and where attackers rent machines
  awsFrankfurt: network('aws-fra', 'hosting', 16509, 'Amazon.com, Inc.', CITIES.frankfurt),
  awsAshburn: network('aws-iad', 'hosting', 16509, 'Amazon.com, Inc.', CITIES.ashburn),
  digitalocean: network('do-ams', 'hosting', 14061, 'DigitalOcean, LLC', CITIES.amsterdam),
  hetzner: network('hetzner', 'hosting', 24940, 'Hetzner Online GmbH', CITIES.frankfurt),
  // in-flight Wi-Fi: the aircraft's traffic leaves through the provider's ground station
  inflight: network('inflight', 'inflight', 7155, 'Viasat, Inc.', CITIES.carlsbad),
  // residential proxies abroad (credential stuffing spread over many addresses)
  proxyBr: network('proxy-br', 'isp', 28573, 'Claro NXT Telecomunicacoes', CITIES.saoPaulo),
  proxyVn: network('proxy-vn', 'isp', 7552, 'Viettel Group', CITIES.hanoi),
  proxyNg: network('proxy-ng', 'isp', 29465, 'MTN Nigeria', CITIES.lagos),
};

/** Home broadband and mobile carrier per home city (people live where their ISP is). */
export const HOMES = [
  { city: CITIES.berlin, isp: NETWORKS.dtag, carrier: NETWORKS.vodafoneDe, office: NETWORKS.officeBerlin },
  { city: CITIES.hamburg, isp: NETWORKS.dtagHamburg, carrier: NETWORKS.vodafoneDe, office: null },
  { city: CITIES.munich, isp: NETWORKS.dtagMunich, carrier: NETWORKS.vodafoneDe, office: NETWORKS.officeMunich },
  { city: CITIES.paris, isp: NETWORKS.orange, carrier: NETWORKS.orangeMobile, office: NETWORKS.officeParis },
  // Orange runs fixed and mobile lines in one AS: a Lyon-based hub for phones all over France
  { city: CITIES.lyon, isp: NETWORKS.orangeLyon, carrier: NETWORKS.orangeMobile, office: null },
  { city: CITIES.london, isp: NETWORKS.bt, carrier: NETWORKS.ee, office: NETWORKS.officeLondon },
  { city: CITIES.manchester, isp: NETWORKS.btManchester, carrier: NETWORKS.ee, office: null },
  { city: CITIES.madrid, isp: NETWORKS.telefonica, carrier: NETWORKS.orangeMobile, office: null },
  { city: CITIES.newYork, isp: NETWORKS.comcast, carrier: NETWORKS.tmobileUs, office: NETWORKS.officeNewYork },
];
