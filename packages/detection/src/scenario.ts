import { createHash } from 'node:crypto';
import type { Alert, AuditEvent, EventKind, Outcome, RejectionReason, TokenType } from '@jwt-audit/events';
import { advance, alertId, createDetectorState, detect, type DetectorOptions } from './detector.js';
import { distanceKm } from './event-facts.js';
import { RULE_IDS, type RuleId } from './types.js';

/**
 * A deterministic scenario: days of benign traffic for many subjects (sessions from their usual
 * devices and networks, token refresh every 15 min, the odd expired token, wrong password or
 * missing scope, logouts, travellers taking real flights) with attack traces injected at known
 * times on the last day. Everything comes from one seeded PRNG: the same options give the same
 * events with the same ids.
 *
 * Day 0 is history (the detector learns devices and baselines); the traces are on day 1.
 */

export interface ScenarioOptions {
  seed?: number;
  subjects?: number;
  /** Start of day 0 (epoch ms, aligned to a day). */
  start?: number;
  days?: number;
}

export interface AttackTrace {
  rule: RuleId;
  name: string;
  start: number;
  end: number;
  eventIds: Set<string>;
}

export interface Scenario {
  events: AuditEvent[];
  traces: AttackTrace[];
  benignEvents: number;
  start: number;
  end: number;
}

const DAY = 86_400_000;
const MIN = 60_000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface City {
  name: string;
  iso: string;
  country: string;
  lat: number;
  lon: number;
  isp: number;
}
const CITIES: City[] = [
  { name: 'Berlin', iso: 'DE', country: 'Germany', lat: 52.52, lon: 13.405, isp: 3320 },
  { name: 'Paris', iso: 'FR', country: 'France', lat: 48.857, lon: 2.352, isp: 3215 },
  { name: 'London', iso: 'GB', country: 'United Kingdom', lat: 51.507, lon: -0.128, isp: 2856 },
  { name: 'Madrid', iso: 'ES', country: 'Spain', lat: 40.417, lon: -3.704, isp: 3352 },
  { name: 'New York', iso: 'US', country: 'United States', lat: 40.713, lon: -74.006, isp: 7922 },
  { name: 'Chicago', iso: 'US', country: 'United States', lat: 41.878, lon: -87.63, isp: 7018 },
  { name: 'Toronto', iso: 'CA', country: 'Canada', lat: 43.653, lon: -79.383, isp: 812 },
  { name: 'Tokyo', iso: 'JP', country: 'Japan', lat: 35.676, lon: 139.65, isp: 2516 },
  { name: 'Singapore', iso: 'SG', country: 'Singapore', lat: 1.352, lon: 103.82, isp: 7473 },
  { name: 'Sao Paulo', iso: 'BR', country: 'Brazil', lat: -23.55, lon: -46.633, isp: 28573 },
];
const SYDNEY: City = { name: 'Sydney', iso: 'AU', country: 'Australia', lat: -33.869, lon: 151.209, isp: 1221 };

interface Device {
  raw: string;
  name: string;
  os: string;
  device: string | null;
  clientId: string;
  mobile: boolean;
}
const DESKTOPS: Device[] = [
  {
    raw: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    name: 'Chrome',
    os: 'Windows',
    device: null,
    clientId: 'web-portal',
    mobile: false,
  },
  {
    raw: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
    name: 'Safari',
    os: 'Mac OS',
    device: null,
    clientId: 'web-portal',
    mobile: false,
  },
  {
    raw: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
    name: 'Firefox',
    os: 'Windows',
    device: null,
    clientId: 'web-portal',
    mobile: false,
  },
];
const PHONES: Device[] = [
  { raw: 'ShopApp/3.2 (iPhone; iOS 17.4)', name: 'ShopApp', os: 'iOS', device: 'iPhone', clientId: 'mobile-app', mobile: true },
  { raw: 'ShopApp/3.2 (Linux; Android 14; Pixel 8)', name: 'ShopApp', os: 'Android', device: 'Pixel 8', clientId: 'mobile-app', mobile: true },
];
const ATTACKER_DEVICE: Device = { raw: 'python-requests/2.31.0', name: 'Python Requests', os: 'Other', device: null, clientId: 'web-portal', mobile: false };
const NEW_LAPTOP: Device = {
  raw: 'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
  name: 'Firefox',
  os: 'Linux',
  device: null,
  clientId: 'web-portal',
  mobile: false,
};
const MOBILE_ASN = 64_600;

interface Endpoint {
  device: Device;
  ip: string;
  asn: number;
  city: City;
}
interface Subject {
  sub: string;
  home: City;
  endpoints: Endpoint[];
  roles: string[];
  traveller: boolean;
}

const SCOPES: Record<string, string[]> = { 'web-portal': ['orders:read', 'orders:write'], 'mobile-app': ['orders:read'] };

export function generateScenario(options: ScenarioOptions = {}): Scenario {
  const rand = mulberry32(options.seed ?? 42);
  const nSubjects = options.subjects ?? 200;
  const start = options.start ?? Date.UTC(2026, 5, 1);
  const days = Math.max(2, options.days ?? 2);
  const end = start + days * DAY;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
  let counter = 0;
  const id = (at: number) => alertId(at, 'event', String(counter++));
  const fingerprint = () => createHash('sha256').update(`token-${counter++}`).digest('hex');
  let ipCounter = 0;
  const newIp = () => {
    ipCounter++;
    return `198.${18 + ((ipCounter >> 16) & 1)}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
  };

  const events: AuditEvent[] = [];

  interface Tok {
    jti: string;
    fp: string;
    iat: number;
    exp: number;
    typ: TokenType;
    sid: string | null;
    familyId: string | null;
    prev: string | null;
  }
  const newToken = (at: number, typ: TokenType, lifetimeSec: number, sid: string | null, familyId: string | null, prev: string | null = null): Tok => ({
    jti: `${typ === 'refresh' ? 'rt' : 'at'}-${(counter++).toString(36)}`,
    fp: fingerprint(),
    iat: Math.floor(at / 1000),
    exp: Math.floor(at / 1000) + lifetimeSec,
    typ,
    sid,
    familyId,
    prev,
  });

  interface Opts {
    sub: string | null;
    ep: Endpoint | null;
    roles?: string[];
    clientId?: string | null;
    token?: Tok | null;
    outcome?: Outcome;
    rejection?: RejectionReason;
    status?: number;
    path?: string;
    attributes?: Record<string, string>;
    alg?: string;
  }
  const make = (kind: EventKind, at: number, o: Opts): AuditEvent => {
    const clientId = o.clientId !== undefined ? o.clientId : (o.ep?.device.clientId ?? null);
    const t = o.token ?? null;
    const e: AuditEvent = {
      id: id(at),
      schemaVersion: 2,
      kind,
      occurredAt: at,
      observedAt: at + 3,
      source: { service: 'orders-api', instance: 'orders-api-1', environment: 'scenario' },
      outcome: o.outcome ?? (o.rejection ? 'failure' : 'success'),
      actor: { sub: o.sub, clientId, tenant: 'acme', roles: o.roles ?? [], scopes: clientId ? (SCOPES[clientId] ?? []) : [] },
      token: t
        ? {
            jti: t.jti,
            sid: t.sid,
            iss: 'https://id.example.com/',
            aud: ['orders-api'],
            kid: 'rsa-1',
            alg: o.alg ?? 'RS256',
            iat: t.iat,
            nbf: t.iat,
            exp: t.exp,
            typ: t.typ,
            familyId: t.familyId,
            fingerprint: t.fp,
            previousFingerprint: t.prev,
          }
        : null,
      rejection: o.rejection ? { reason: o.rejection, detail: null } : null,
      key: null,
      session: null,
      http:
        o.status !== undefined
          ? {
              request: {
                id: null,
                method: 'GET',
                scheme: 'https',
                host: 'api.example.com',
                path: o.path ?? '/api/orders',
                route: null,
                query: null,
                headers: {},
                body: null,
              },
              response: { status: o.status, headers: {}, body: null, latencyMs: 12 },
            }
          : null,
      network: o.ep ? { clientIp: o.ep.ip, forwardedFor: [], userAgent: o.ep.device.raw } : null,
      trace: null,
      masking: null,
      enrichment: o.ep
        ? {
            geo: { countryIso: o.ep.city.iso, country: o.ep.city.country, city: o.ep.city.name, lat: o.ep.city.lat, lon: o.ep.city.lon },
            asn: { number: o.ep.asn, org: null },
            userAgent: { name: o.ep.device.name, version: null, os: o.ep.device.os, osVersion: null, device: o.ep.device.device },
            ipClass: 'public',
            tokenAgeSec: t ? Math.floor(at / 1000) - t.iat : null,
            tokenRemainingSec: t ? t.exp - Math.floor(at / 1000) : null,
            lifetimeExceedsPolicy: false,
            authorization: null,
            sessionId: t?.sid ?? null,
            enrichedAt: at + 5,
          }
        : null,
      attributes: o.attributes ?? {},
      approval: null,
    };
    events.push(e);
    return e;
  };

  // ---------- subjects ----------
  const subjects: Subject[] = [];
  for (let i = 0; i < nSubjects; i++) {
    const home = pick(CITIES);
    const endpoints: Endpoint[] = [{ device: pick(DESKTOPS), ip: newIp(), asn: home.isp, city: home }];
    if (rand() < 0.7) endpoints.push({ device: pick(PHONES), ip: newIp(), asn: MOBILE_ASN, city: home });
    subjects.push({
      sub: `user-${String(i).padStart(5, '0')}@example.com`,
      home,
      endpoints,
      roles: rand() < 0.1 ? ['customer', 'support'] : ['customer'],
      traveller: rand() < 0.1,
    });
  }

  // ---------- benign sessions ----------
  let sessionCounter = 0;
  const session = (s: Subject, ep: Endpoint, t0: number, durationMin: number) => {
    const sid = `sess-${(sessionCounter++).toString(36)}`;
    const fam = `fam-${sid}`;
    let access = newToken(t0, 'access', 900, sid, fam);
    let refresh = newToken(t0, 'refresh', 8 * 3600, sid, fam);
    const o = (token: Tok | null, extra: Partial<Opts> = {}): Opts => ({ sub: s.sub, ep, roles: s.roles, token, ...extra });
    make('token.issued', t0, o(access));
    make('session.started', t0, o(null));
    const endAt = t0 + durationMin * MIN;
    let t = t0 + between(20, 120) * 1000;
    let nextRefresh = t0 + 14 * MIN;
    const noisy = rand();
    let noiseDone = false;
    while (t < endAt) {
      if (t >= nextRefresh) {
        if (!noiseDone && noisy < 0.1) {
          // the client sends its expired access token once, then refreshes: normal
          make('token.rejected', t, o(access, { rejection: 'expired', outcome: 'failure' }));
          make('http.exchange', t, o(access, { status: 401, outcome: 'failure', attributes: { 'auth.rejection': 'expired' } }));
          noiseDone = true;
          t += 1000;
        }
        const next = newToken(t, 'refresh', 8 * 3600, sid, fam, refresh.fp);
        make('token.refreshed', t, o(next));
        refresh = next;
        access = newToken(t, 'access', 900, sid, fam);
        nextRefresh = t + 14 * MIN;
        t += 500;
      }
      if (!noiseDone && noisy >= 0.1 && noisy < 0.15) {
        make('token.rejected', t, o(access, { rejection: 'insufficient_scope', outcome: 'failure' }));
        make(
          'http.exchange',
          t,
          o(access, { status: 403, outcome: 'failure', path: '/api/admin/users', attributes: { 'auth.rejection': 'insufficient_scope' } }),
        );
        noiseDone = true;
      } else {
        // what the interceptor publishes for a request with a valid token: one token.validated with the response
        make('token.validated', t, o(access, { status: 200 }));
      }
      t += between(60, 360) * 1000;
    }
    if (rand() < 0.5) {
      make('session.ended', endAt, o(access, { attributes: { reason: 'logout' } }));
      make('token.revoked', endAt, o(access));
    }
  };

  const benignFor = (s: Subject, dayStart: number, travelDay: boolean) => {
    // sessions cycle through the subject's devices, so every device is used on each day
    const n = Math.max(2, s.endpoints.length * 2);
    const slot = DAY / n;
    let lastEnd = 0;
    let lastCity = s.home;
    for (let k = 0; k < n; k++) {
      let ep = s.endpoints[k % s.endpoints.length]!;
      let t0 = dayStart + Math.floor(k * slot + rand() * (slot - 2 * 3_600_000));
      if (s.traveller && travelDay && k >= n / 2) {
        // flew to the nearest other city: the later sessions of the day are there, after a real flight
        const dest = CITIES.filter((c) => c !== s.home).sort((a, b) => distanceKm(a, s.home) - distanceKm(b, s.home))[0]!;
        const phone = s.endpoints[s.endpoints.length - 1]!;
        ep = { ...phone, ip: `${phone.ip.split('.').slice(0, 3).join('.')}.250`, city: dest };
        if (lastCity !== dest) t0 = Math.max(t0, lastEnd + Math.ceil((distanceKm(lastCity, dest) / 700) * 3_600_000) + 3_600_000);
        if (t0 + 90 * MIN > dayStart + DAY) break;
      }
      const minutes = between(20, 90);
      session(s, ep, t0, minutes);
      lastEnd = t0 + minutes * MIN;
      lastCity = ep.city;
    }
    if (rand() < 0.05) {
      // a mistyped password at the token endpoint
      make('http.exchange', dayStart + between(0, DAY - 1), { sub: s.sub, ep: s.endpoints[0]!, status: 401, outcome: 'failure', path: '/oauth/token' });
    }
  };

  const leaver: Subject = {
    sub: 'leaver@example.com',
    home: CITIES[0]!,
    endpoints: [{ device: DESKTOPS[0]!, ip: newIp(), asn: CITIES[0]!.isp, city: CITIES[0]! }],
    roles: ['customer'],
    traveller: false,
  };
  for (let d = 0; d < days; d++) {
    for (const s of subjects) benignFor(s, start + d * DAY, d === days - 1);
  }
  benignFor(leaver, start, false);
  const benignEvents = events.length;

  // ---------- attack traces, on the last day ----------
  const traces: AttackTrace[] = [];
  const day = start + (days - 1) * DAY;
  let slotN = 0;
  const trace = (rule: RuleId, name: string, build: (t: number) => void) => {
    const t = day + 3_600_000 + slotN++ * 75 * MIN;
    const before = events.length;
    build(t);
    const mine = events.slice(before);
    traces.push({
      rule,
      name,
      start: Math.min(...mine.map((e) => e.occurredAt)),
      end: Math.max(...mine.map((e) => e.occurredAt)),
      eventIds: new Set(mine.map((e) => e.id)),
    });
  };
  const victim = (k: number) => subjects[(k * 7 + 3) % subjects.length]!;
  const attackerEp = (city: City = CITIES[0]!): Endpoint => ({ device: ATTACKER_DEVICE, ip: newIp(), asn: 64_900 + Math.floor(rand() * 50), city });
  const sessionToken = (at: number) => {
    const sid = `sess-${(sessionCounter++).toString(36)}`;
    return newToken(at, 'access', 900, sid, `fam-${sid}`);
  };

  trace('revoked-token-use', 'revoked access token replayed', (t) => {
    const v = victim(0);
    const ep = v.endpoints[0]!;
    const tok = sessionToken(t);
    make('token.issued', t, { sub: v.sub, ep, roles: v.roles, token: tok });
    make('token.validated', t + MIN, { sub: v.sub, ep, roles: v.roles, token: tok });
    make('token.revoked', t + 3 * MIN, { sub: v.sub, ep, roles: v.roles, token: tok });
    // the copy is used from the attacker's machine (the victim's own tabs after logout are its tail, not a copy)
    const copy = attackerEp(v.home);
    make('token.validated', t + 8 * MIN, { sub: v.sub, ep: copy, roles: v.roles, token: tok });
    make('token.rejected', t + 9 * MIN, { sub: v.sub, ep: copy, roles: v.roles, token: tok, rejection: 'revoked' });
  });

  trace('refresh-token-reuse', 'rotated refresh token exchanged again', (t) => {
    const v = victim(1);
    const ep = v.endpoints[0]!;
    const sid = `sess-${(sessionCounter++).toString(36)}`;
    const fam = `fam-${sid}`;
    const r0 = newToken(t, 'refresh', 8 * 3600, sid, fam);
    make('token.issued', t, { sub: v.sub, ep, roles: v.roles, token: newToken(t, 'access', 900, sid, fam) });
    make('token.refreshed', t + 10 * MIN, { sub: v.sub, ep, roles: v.roles, token: newToken(t + 10 * MIN, 'refresh', 8 * 3600, sid, fam, r0.fp) });
    make('token.refreshed', t + 25 * MIN, { sub: v.sub, ep, roles: v.roles, token: newToken(t + 25 * MIN, 'refresh', 8 * 3600, sid, fam, r0.fp) });
  });

  trace('token-multi-origin', 'one access token from five networks', (t) => {
    const v = victim(2);
    const tok = sessionToken(t);
    const home = v.endpoints[0]!;
    make('token.issued', t, { sub: v.sub, ep: home, roles: v.roles, token: tok });
    for (let i = 0; i < 5; i++) {
      const ep: Endpoint = { device: home.device, ip: newIp(), asn: 64_700 + i, city: v.home };
      make('token.validated', t + (i + 1) * 40_000, { sub: v.sub, ep, roles: v.roles, token: tok });
    }
  });

  trace('impossible-travel', 'home, then Sydney 20 minutes later', (t) => {
    const v = victim(3);
    const home = v.endpoints[0]!;
    const tok = sessionToken(t);
    make('token.issued', t, { sub: v.sub, ep: home, roles: v.roles, token: tok });
    make('token.validated', t + MIN, { sub: v.sub, ep: home, roles: v.roles, token: tok });
    make('token.validated', t + 21 * MIN, { sub: v.sub, ep: { ...home, ip: newIp(), asn: SYDNEY.isp, city: SYDNEY }, roles: v.roles, token: tok });
  });

  trace('auth-failure-burst', 'one IP spraying forged tokens across 25 accounts', (t) => {
    const ep = attackerEp();
    for (let i = 0; i < 25; i++) {
      const v = subjects[(i * 13 + 5) % subjects.length]!;
      make('token.rejected', t + i * 2_000, { sub: v.sub, ep, clientId: null, token: sessionToken(t), rejection: 'wrong_issuer' });
    }
  });

  trace('auth-failure-burst', 'password stuffing against one account from a botnet', (t) => {
    const v = victim(5);
    for (let i = 0; i < 12; i++) {
      make('http.exchange', t + i * 15_000, {
        sub: v.sub,
        ep: attackerEp(v.home),
        clientId: 'web-portal',
        status: 401,
        outcome: 'failure',
        path: '/oauth/token',
      });
    }
  });

  trace('token-tampering', 'token with a forged signature', (t) => {
    const v = victim(6);
    make('token.rejected', t, { sub: v.sub, ep: attackerEp(v.home), token: sessionToken(t), rejection: 'bad_signature' });
  });

  trace('token-tampering', 'alg none token', (t) => {
    const v = victim(7);
    make('token.rejected', t, { sub: v.sub, ep: attackerEp(v.home), token: sessionToken(t), rejection: 'alg_not_allowed', alg: 'none' });
  });

  trace('expired-token-replay', 'captured expired token replayed', (t) => {
    const v = victim(8);
    const ep = attackerEp(v.home);
    const old = newToken(t - 3 * 3_600_000, 'access', 900, null, null);
    // separate tries, not one retry burst
    for (let i = 0; i < 4; i++) make('token.rejected', t + i * 5 * MIN, { sub: v.sub, ep, clientId: 'web-portal', token: old, rejection: 'expired' });
  });

  trace('privilege-change-in-session', 'refresh returns an admin role', (t) => {
    const v = victim(9);
    const ep = v.endpoints[0]!;
    const sid = `sess-${(sessionCounter++).toString(36)}`;
    const fam = `fam-${sid}`;
    const r0 = newToken(t, 'refresh', 8 * 3600, sid, fam);
    make('token.issued', t, { sub: v.sub, ep, roles: v.roles, token: newToken(t, 'access', 900, sid, fam) });
    make('token.refreshed', t + 14 * MIN, {
      sub: v.sub,
      ep,
      roles: [...v.roles, 'admin'],
      token: newToken(t + 14 * MIN, 'refresh', 8 * 3600, sid, fam, r0.fp),
    });
    make('token.validated', t + 15 * MIN, { sub: v.sub, ep, roles: [...v.roles, 'admin'], token: newToken(t + 14 * MIN, 'access', 900, sid, fam) });
  });

  trace('privilege-change-in-session', 'probing admin endpoints', (t) => {
    const v = victim(10);
    const ep = v.endpoints[0]!;
    const tok = sessionToken(t);
    for (let i = 0; i < 8; i++)
      make('token.rejected', t + i * 20_000, {
        sub: v.sub,
        ep,
        roles: v.roles,
        token: tok,
        rejection: 'insufficient_scope',
        status: 403,
        path: `/api/admin/${['users', 'roles', 'audit', 'keys', 'billing', 'tenants', 'flags', 'quotas'][i]}`,
      });
  });

  trace('long-lived-token', 'access token valid for 30 days', (t) => {
    const v = victim(11);
    const ep = v.endpoints[0]!;
    const tok = newToken(t, 'access', 30 * 86_400, `sess-${(sessionCounter++).toString(36)}`, null);
    make('token.issued', t, { sub: v.sub, ep, roles: v.roles, token: tok });
    make('token.validated', t + MIN, { sub: v.sub, ep, roles: v.roles, token: tok });
  });

  trace('issuance-spike', 'one subject minting tokens in a loop', (t) => {
    const v = victim(12);
    const ep = v.endpoints[0]!;
    for (let i = 0; i < 60; i++) make('token.issued', t + i * 3_000, { sub: v.sub, ep, roles: v.roles, token: sessionToken(t + i * 3_000) });
  });

  trace('issuance-spike', 'a client harvesting tokens for many subjects', (t) => {
    for (let i = 0; i < 250; i++) {
      const v = subjects[(i * 11 + 1) % subjects.length]!;
      make('token.issued', t + i * 600, { sub: v.sub, ep: null, clientId: 'web-portal', roles: v.roles, token: sessionToken(t + i * 600) });
    }
  });

  trace('deprovisioned-subject-activity', "a leaver's token still in use", (t) => {
    make('subject.deprovisioned', t, { sub: leaver.sub, ep: null, clientId: null });
    const tok = sessionToken(t - 10 * MIN);
    make('token.validated', t + 30 * MIN, { sub: leaver.sub, ep: leaver.endpoints[0]!, roles: leaver.roles, token: tok });
  });

  trace('new-device-for-subject', 'sign-in from an unknown laptop and network', (t) => {
    const v = victim(14);
    const ep: Endpoint = { device: NEW_LAPTOP, ip: newIp(), asn: 64_800, city: v.home };
    const tok = sessionToken(t);
    make('token.issued', t, { sub: v.sub, ep, roles: v.roles, token: tok });
    make('token.validated', t + MIN, { sub: v.sub, ep, roles: v.roles, token: tok });
  });

  events.sort((a, b) => a.occurredAt - b.occurredAt);
  return { events, traces, benignEvents, start, end };
}

/** Runs a scenario through one detector state (all rules, no repartitioning needed in-process). */
export function runScenario(scenario: Scenario, options: DetectorOptions = {}): Alert[] {
  const state = createDetectorState(options);
  const alerts: Alert[] = [];
  for (const e of scenario.events) alerts.push(...detect(state, e, e.occurredAt).alerts);
  alerts.push(...advance(state, scenario.end + DAY, scenario.end + DAY));
  return alerts;
}

export interface RuleScore {
  rule: RuleId;
  traces: number;
  detected: number;
  recall: number;
  alerts: number;
  truePositives: number;
  falsePositives: number;
  precision: number;
  /** Longest time from a trace's first event to its first alert of this rule (ms). */
  maxLatencyMs: number;
}

/**
 * Scores alerts against the injected traces. An alert is a true positive when its evidence
 * includes an event of some trace (an attack may rightly trip several rules), else a false
 * positive. A trace is detected when an alert of its own rule cites one of its events, raised no
 * later than the trace's last event.
 */
export function evaluate(scenario: Scenario, alerts: Alert[]): { rules: RuleScore[]; falsePositives: Alert[]; missed: AttackTrace[] } {
  const traceOf = new Map<string, AttackTrace>();
  for (const t of scenario.traces) for (const id of t.eventIds) traceOf.set(id, t);
  const falsePositives: Alert[] = [];
  const detected = new Map<AttackTrace, number>();
  const tp = new Map<string, number>();
  const all = new Map<string, number>();
  for (const a of alerts) {
    all.set(a.rule, (all.get(a.rule) ?? 0) + 1);
    const hits = new Set(a.evidence.map((id) => traceOf.get(id)).filter((t): t is AttackTrace => t !== undefined));
    if (hits.size === 0) {
      falsePositives.push(a);
      continue;
    }
    tp.set(a.rule, (tp.get(a.rule) ?? 0) + 1);
    for (const t of hits) {
      if (t.rule !== a.rule || a.lastSeen > t.end) continue;
      const latency = a.lastSeen - t.start;
      detected.set(t, Math.min(detected.get(t) ?? Number.POSITIVE_INFINITY, latency));
    }
  }
  const rules = RULE_IDS.map((rule): RuleScore => {
    const mine = scenario.traces.filter((t) => t.rule === rule);
    const found = mine.filter((t) => detected.has(t));
    const n = all.get(rule) ?? 0;
    const good = tp.get(rule) ?? 0;
    return {
      rule,
      traces: mine.length,
      detected: found.length,
      recall: mine.length === 0 ? 1 : found.length / mine.length,
      alerts: n,
      truePositives: good,
      falsePositives: n - good,
      precision: n === 0 ? 1 : good / n,
      maxLatencyMs: found.length === 0 ? 0 : Math.max(...found.map((t) => detected.get(t)!)),
    };
  });
  return { rules, falsePositives, missed: scenario.traces.filter((t) => !detected.has(t)) };
}
