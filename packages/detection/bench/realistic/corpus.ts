import { createHash } from 'node:crypto';
import type { AuditEvent } from '@jwt-audit/events';
import { AUDIENCE, createEdge, ISSUER, STAGING_ISSUER, type Caller, type Edge, type Route } from './edge.js';
import { addressIn, CITIES, HOMES, NETWORKS, type Network } from './world.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

/**
 * A realistic evaluation corpus, independent of the rules and of the unit-test scenario:
 * simulated people and service clients use a web portal, a mobile app and APIs through the
 * project's own edge code (see edge.ts), over several days (day 0 is for learning). The benign
 * traffic carries the cases real traffic is full of, each a named cohort; labelled attacks of
 * many types, several low and slow, are injected on the later days.
 *
 * Deterministic for a seed except event ids (the interceptor's UUIDv7s): labels are kept by id.
 */

export interface AttackLabel {
  id: string;
  type: string;
  /** rule ids meant to find it (any one of them counts) */
  rules: string[];
  subject: string | null;
  start: number;
  end: number;
  eventIds: Set<string>;
}

export interface Corpus {
  events: AuditEvent[];
  attacks: AttackLabel[];
  /** event id -> benign cohorts of the person / client that produced it */
  cohorts: Map<string, string[]>;
  start: number;
  end: number;
  /** days of learning at the start, not scored */
  learningDays: number;
  days: number;
  /** people and service clients active on each scored day */
  activeSubjectsPerDay: number;
}

export interface CorpusOptions {
  seed?: number;
  people?: number;
  days?: number;
  start?: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const UA = {
  chromeWin: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  chromeWinNew: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
  edgeWin: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  androidNew: 'Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  python: 'python-requests/2.31.0',
  curl: 'curl/8.5.0',
  goClient: 'Go-http-client/2.0',
  okhttp: 'okhttp/4.12.0',
};
const DESKTOP_UAS = [UA.chromeWin, UA.safariMac, UA.firefoxLinux, UA.edgeWin];

const ROUTES = {
  orders: { name: 'orders', path: '/api/orders', scopes: ['orders:read'] },
  order: { name: 'order', path: '/api/orders/{id}', scopes: ['orders:read'] },
  profile: { name: 'profile', path: '/api/profile', scopes: [] },
  export: { name: 'export', path: '/api/reports/export', scopes: ['orders:read'] },
  notifications: { name: 'notifications', path: '/api/notifications', scopes: [] },
} satisfies Record<string, Route>;
const ADMIN_ROUTES: Route[] = ['users', 'roles', 'audit', 'billing', 'settings', 'keys', 'tenants', 'exports', 'sessions', 'webhooks', 'flags', 'quotas'].map(
  (n) => ({ name: `admin-${n}`, path: `/api/admin/${n}`, scopes: ['admin:read'] }),
);
const API_ROUTES: Route[] = [ROUTES.orders, ROUTES.order, ROUTES.profile, ROUTES.notifications];

interface Device {
  ua: string;
  clientId: 'web-portal' | 'mobile-app';
  kind: 'desktop' | 'phone';
  host: number;
}

interface Person {
  sub: string;
  username: string;
  password: string;
  home: (typeof HOMES)[number];
  tz: number;
  office: boolean;
  desktop: Device;
  phone: Device | null;
  roles: string[];
  cohorts: string[];
  vpn: boolean;
  /** a flight: [day, departure hour UTC, duration h, destination] */
  flight: { day: number; depart: number; hours: number; to: Network } | null;
  /** a new device appears on this day */
  newDevice: { day: number; device: Device } | null;
  roleGrant: { at: number; role: string } | null;
  multiTab: boolean;
  expiryRetries: boolean;
  prefetch: boolean;
  logoutTail: boolean;
  nightOwl: boolean;
}

interface Family {
  sub: string;
  clientId: string;
  sid: string;
  current: string;
  prev: string | null;
  rotatedAt: number;
  revoked: boolean;
  person: Person | null;
  scopes: string[];
}

/** A session as its client holds it. */
interface Held {
  access: string;
  refresh: string;
  accessExp: number;
  family: Family;
  jti: string;
}

/**
 * The authorization server: password and client-credentials grants, opaque refresh tokens
 * rotated on every use with a reuse leeway (a parallel refresh within `leewayMs` gets the same
 * successor; a replay after it revokes the family, RFC 9700 §4.14.2), revocation.
 */
class Idp {
  readonly byRefresh = new Map<string, Family>();
  private n = 0;
  constructor(
    private readonly edge: Edge,
    private readonly rand: () => number,
    readonly leewayMs: number,
  ) {}

  private opaque(): string {
    return createHash('sha256')
      .update(`rt-${this.n++}-${this.rand()}`)
      .digest('base64url');
  }

  async access(
    at: number,
    f: { sub: string; clientId: string; sid: string | null; scopes: string[]; roles: string[] },
    opts: { lifetimeSec?: number; iss?: string } = {},
  ): Promise<{ token: string; exp: number; jti: string }> {
    const iat = Math.floor(at / 1000);
    const exp = iat + (opts.lifetimeSec ?? 900);
    const jti = `at-${(this.n++).toString(36)}`;
    const token = await this.edge.sign({
      iss: opts.iss ?? ISSUER,
      aud: AUDIENCE,
      sub: f.sub,
      client_id: f.clientId,
      ...(f.sid ? { sid: f.sid } : {}),
      jti,
      scope: f.scopes.join(' '),
      roles: f.roles,
      iat,
      exp,
    });
    return { token, exp: exp * 1000, jti };
  }

  async login(at: number, who: Caller, p: Person, device: Device, password: string): Promise<Held | null> {
    const form = { grant_type: 'password', username: p.username, password, client_id: device.clientId, scope: 'openid orders:read' };
    if (password !== p.password) {
      await this.edge.tokenEndpoint(at, who, form, 400, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
      return null;
    }
    const sid = `s-${(this.n++).toString(36)}`;
    const family: Family = {
      sub: p.sub,
      clientId: device.clientId,
      sid,
      current: this.opaque(),
      prev: null,
      rotatedAt: at,
      revoked: false,
      person: p,
      scopes: ['orders:read', ...(p.roles.includes('admin') ? ['admin:read'] : [])],
    };
    this.byRefresh.set(family.current, family);
    const a = await this.access(at, { sub: p.sub, clientId: device.clientId, sid, scopes: family.scopes, roles: p.roles });
    await this.edge.tokenEndpoint(at, who, form, 200, { access_token: a.token, token_type: 'Bearer', expires_in: 900, refresh_token: family.current });
    return { access: a.token, refresh: family.current, accessExp: a.exp, family, jti: a.jti };
  }

  /** A refresh grant; null when refused (400 invalid_grant). */
  async refresh(at: number, who: Caller, rt: string, clientId: string): Promise<Held | null> {
    const form = { grant_type: 'refresh_token', refresh_token: rt, client_id: clientId };
    const f = this.byRefresh.get(rt);
    let ok = false;
    if (f && !f.revoked) {
      if (rt === f.current) {
        f.prev = f.current;
        f.current = this.opaque();
        f.rotatedAt = at;
        this.byRefresh.set(f.current, f);
        ok = true;
      } else if (rt === f.prev && at - f.rotatedAt <= this.leewayMs) {
        ok = true; // parallel refresh within the leeway: the same successor again
      } else {
        f.revoked = true; // replay of a rotated token: the family is revoked
      }
    }
    if (!ok || !f) {
      await this.edge.tokenEndpoint(at, who, form, 400, { error: 'invalid_grant', error_description: 'Token is not active' });
      return null;
    }
    const roles = f.person?.roles ?? [];
    const a = await this.access(at, { sub: f.sub, clientId, sid: f.sid, scopes: f.scopes, roles });
    await this.edge.tokenEndpoint(at, who, form, 200, { access_token: a.token, token_type: 'Bearer', expires_in: 900, refresh_token: f.current });
    return { access: a.token, refresh: f.current, accessExp: a.exp, family: f, jti: a.jti };
  }

  async clientCredentials(at: number, who: Caller, clientId: string, lifetimeSec = 3600): Promise<{ token: string; exp: number; jti: string }> {
    const a = await this.access(at, { sub: `${clientId}@clients`, clientId, sid: null, scopes: ['orders:read'], roles: [] }, { lifetimeSec });
    const basic = Buffer.from(`${clientId}:client-secret-${clientId}`).toString('base64');
    await this.edge.tokenEndpoint(
      at,
      who,
      { grant_type: 'client_credentials', scope: 'orders:read' },
      200,
      { access_token: a.token, token_type: 'Bearer', expires_in: lifetimeSec },
      basic,
    );
    return a;
  }

  async logout(at: number, who: Caller, h: Held): Promise<void> {
    h.family.revoked = true;
    await this.edge.revoke(at, who, h.refresh, 'refresh_token');
    await this.edge.revoke(at + 50, who, h.access, 'access_token');
  }
}

type Step = { at: number; seq: number; run: () => Promise<void> };

export async function generateCorpus(options: CorpusOptions = {}): Promise<Corpus> {
  const rand = prng(options.seed ?? 7);
  const nPeople = options.people ?? 290;
  const days = Math.max(2, options.days ?? 3);
  const start = options.start ?? Date.UTC(2026, 8, 7); // a Monday
  const end = start + days * DAY;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const edge = await createEdge({ skewedInstanceMs: 3_500 });
  const idp = new Idp(edge, rand, 10_000);
  const cohorts = new Map<string, string[]>();
  const attacks: AttackLabel[] = [];
  let labelNow: AttackLabel | null = null;
  let cohortNow: string[] = [];
  edge.onEvent = (e) => {
    if (labelNow) labelNow.eventIds.add(e.id);
    // the API instance whose clock runs 3.5 s ahead stamps a logout tail's requests later still
    else cohorts.set(e.id, e.source.instance === 'orders-api-3' && cohortNow.includes('logout-tail') ? [...cohortNow, 'clock-skew'] : cohortNow);
  };
  const steps: Step[] = [];
  let seq = 0;
  /** schedules benign work of a person (tagged with its cohorts) */
  const at = (t: number, tags: string[], run: () => Promise<void>) => {
    if (t >= start && t < end)
      steps.push({
        at: t,
        seq: seq++,
        run: async () => {
          cohortNow = tags;
          await run();
        },
      });
  };
  /** schedules labelled attack work */
  const attack = (label: AttackLabel, t: number, run: () => Promise<void>) => {
    label.start = Math.min(label.start, t);
    label.end = Math.max(label.end, t);
    steps.push({
      at: t,
      seq: seq++,
      run: async () => {
        labelNow = label;
        try {
          await run();
        } finally {
          labelNow = null;
        }
      },
    });
  };
  const newLabel = (type: string, rules: string[], subject: string | null): AttackLabel => {
    const l: AttackLabel = {
      id: `${type}#${attacks.filter((a) => a.type === type).length + 1}`,
      type,
      rules,
      subject,
      start: Number.POSITIVE_INFINITY,
      end: 0,
      eventIds: new Set(),
    };
    attacks.push(l);
    return l;
  };

  // ---------------- people ----------------
  const people: Person[] = [];
  for (let i = 0; i < nPeople; i++) {
    const home = pick(HOMES);
    const p: Person = {
      sub: createHash('sha256')
        .update(`person-${i}`)
        .digest('hex')
        .slice(0, 24)
        .replace(/^(.{8})(.{4})(.{4})/, '$1-$2-$3-'),
      username: `person.${i}@corp.example`,
      password: `pw-${i}-${Math.floor(rand() * 1e9)}`,
      home,
      tz: home.city.iso === 'US' ? -5 : home.city.iso === 'GB' ? 0 : 1,
      office: home.office !== null && chance(0.6),
      desktop: { ua: pick(DESKTOP_UAS), clientId: 'web-portal', kind: 'desktop', host: Math.floor(rand() * 60_000) },
      phone: chance(0.7) ? { ua: pick([UA.iphone, UA.android]), clientId: 'mobile-app', kind: 'phone', host: Math.floor(rand() * 60_000) } : null,
      roles: chance(0.05) ? ['employee', 'admin'] : ['employee'],
      cohorts: [],
      vpn: chance(0.1),
      flight: null,
      newDevice: null,
      roleGrant: null,
      multiTab: chance(0.35),
      expiryRetries: chance(0.2),
      prefetch: chance(0.15),
      logoutTail: chance(0.3),
      nightOwl: chance(0.05),
    };
    if (chance(0.08)) {
      const to = pick([NETWORKS.comcast, NETWORKS.bt, NETWORKS.orange, NETWORKS.telefonica, NETWORKS.dtagMunich].filter((n) => n.city !== home.city));
      // block time of a real flight: ~750 km/h over the great circle plus taxi and climb
      const km = Math.hypot((to.city.lat - home.city.lat) * 111, (to.city.lon - home.city.lon) * 111 * Math.cos((home.city.lat * Math.PI) / 180));
      p.flight = { day: 1 + Math.floor(rand() * (days - 1)), depart: 6 + Math.floor(rand() * 8), hours: Math.max(1, km / 750 + 0.75), to };
    }
    if (chance(0.06))
      p.newDevice = {
        day: 1 + Math.floor(rand() * (days - 1)),
        device: chance(0.5)
          ? { ua: UA.androidNew, clientId: 'mobile-app', kind: 'phone', host: Math.floor(rand() * 60_000) }
          : {
              ua: UA.chromeWinNew === p.desktop.ua ? UA.safariMac : pick(DESKTOP_UAS.filter((u) => u !== p.desktop.ua)),
              clientId: 'web-portal',
              kind: 'desktop',
              host: p.desktop.host,
            },
      };
    if (chance(0.05)) p.roleGrant = { at: start + (1 + Math.floor(rand() * (days - 1))) * DAY + between(9, 15) * HOUR, role: 'approver' };
    const c = p.cohorts;
    c.push(p.office ? 'office-nat' : 'home');
    if (p.phone) c.push('mobile-cgnat');
    if (p.vpn) c.push('vpn');
    if (p.flight) c.push('travel');
    if (p.newDevice) c.push('new-device');
    if (p.roleGrant) c.push('role-grant');
    if (p.multiTab) c.push('multi-tab-refresh');
    if (p.expiryRetries) c.push('expiry-retries');
    if (p.prefetch) c.push('prefetching-ui');
    if (p.logoutTail) c.push('logout-tail');
    if (p.nightOwl) c.push('night-owl');
    people.push(p);
  }

  /** Where a person's device is at time t (network and address). */
  const whereAt = (p: Person, d: Device, t: number): Caller & { net: Network; tag: string } => {
    const w = placeOf(p, d, t);
    const tag =
      w.net.kind === 'office'
        ? 'office-nat'
        : w.net.kind === 'carrier'
          ? 'mobile-cgnat'
          : w.net.kind === 'vpn'
            ? 'vpn'
            : w.net.kind === 'inflight' || w.net !== p.home.isp
              ? 'travel'
              : 'home';
    return { ...w, tag };
  };
  const placeOf = (p: Person, d: Device, t: number): Caller & { net: Network } => {
    const day = Math.floor((t - start) / DAY);
    const localHour = (((t - start) % DAY) / HOUR + p.tz + 24) % 24;
    const weekday = ((day % 7) + 7) % 7 < 5;
    if (p.flight) {
      const dep = start + p.flight.day * DAY + p.flight.depart * HOUR;
      const arr = dep + p.flight.hours * HOUR;
      if (t >= dep + 30 * MIN && t < arr && p.flight.hours > 1)
        return { net: NETWORKS.inflight, ip: addressIn(NETWORKS.inflight, p.desktop.host + day), ua: d.ua };
      if (t >= arr) return { net: p.flight.to, ip: addressIn(p.flight.to, p.desktop.host * 7 + 13), ua: d.ua };
    }
    if (p.vpn) {
      // the VPN is switched on for a few hours on some days (exit in another country)
      const h = createHash('md5').update(`${p.sub}-${day}`).digest()[0]!;
      if (h % 3 === 0 && localHour >= 10 + (h % 5) && localHour < 13 + (h % 5)) {
        const exit = [NETWORKS.vpnAmsterdam, NETWORKS.vpnZurich, NETWORKS.vpnNewYork][h % 3]!;
        return { net: exit, ip: addressIn(exit, (h * 31 + Math.floor(t / (20 * MIN))) % 400), ua: d.ua };
      }
    }
    if (d.kind === 'phone') {
      if (localHour >= 19 || localHour < 8) return { net: p.home.isp, ip: addressIn(p.home.isp, p.desktop.host), ua: d.ua }; // home Wi-Fi
      // CGNAT: the public address changes every ~10 minutes
      return { net: p.home.carrier, ip: addressIn(p.home.carrier, (d.host + Math.floor(t / (10 * MIN)) * 7919) % 65_000), ua: d.ua };
    }
    if (p.office && p.home.office && weekday && localHour >= 8.5 && localHour < 17.5) return { net: p.home.office, ip: addressIn(p.home.office, 1), ua: d.ua };
    return { net: p.home.isp, ip: addressIn(p.home.isp, p.desktop.host), ua: d.ua };
  };

  const randomPath = (r: Route) => (r.path.includes('{id}') ? r.path.replace('{id}', String(10_000 + Math.floor(rand() * 90_000))) : r.path);

  /** One sign-in session of a person on a device, from t0 for `minutes`, with the person's habits. */
  const session = (p: Person, d: Device, t0: number, minutes: number, extra: string[] = []) => {
    const isNew = p.newDevice !== null && d === p.newDevice.device;
    /** the cohorts an action belongs to: where the device is, what the person does */
    const tagsAt = (who: { tag: string }, ...action: string[]) => {
      cohortNow = [
        who.tag,
        ...extra,
        ...action,
        ...(isNew ? ['new-device'] : []),
        ...(p.roleGrant && p.roles.includes(p.roleGrant.role) ? ['role-grant'] : []),
      ];
    };
    const tags: string[] = [];
    let held: Held | null = null;
    const tEnd = t0 + minutes * MIN;
    at(t0, tags, async () => {
      const who = whereAt(p, d, t0);
      tagsAt(who);
      if (chance(0.08)) await idp.login(t0 - 20_000, who, p, d, `${p.password}x`); // a typo first
      held = await idp.login(t0, who, p, d, p.password);
    });
    let t = t0 + between(5, 60) * 1000;
    let lastNav = t0;
    while (t < tEnd) {
      const tt = t;
      at(tt, tags, async () => {
        if (!held) return;
        const who = whereAt(p, d, tt);
        tagsAt(who);
        if (tt >= held.accessExp - 60_000) {
          if (p.expiryRetries && tt >= held.accessExp + 31_000) {
            // the client presents its expired token a few times before it refreshes
            tagsAt(who, 'expiry-retries');
            for (let i = 0; i < 2 + Math.floor(rand() * 3); i++) await edge.api(tt + i * 400, who, held.access, ROUTES.notifications);
          }
          const rt = held.refresh;
          tagsAt(who);
          const next = await idp.refresh(tt + 2_000, who, rt, d.clientId);
          if (p.multiTab && d.kind === 'desktop') {
            // a second tab noticed the expiry too and refreshes with the same token a moment later
            tagsAt(who, 'multi-tab-refresh');
            const other = await idp.refresh(tt + 2_000 + 150 + Math.floor(rand() * 1_800), who, rt, d.clientId);
            if (other) await edge.api(tt + 4_000, who, other.access, ROUTES.notifications);
          }
          held = next;
          if (!held) return;
          tagsAt(who);
        }
        const route = pick(API_ROUTES);
        const heavy = chance(0.02);
        await edge.api(tt + 2_500, who, held.access, route, {
          path: randomPath(route),
          bytes: heavy ? 150_000 + Math.floor(rand() * 400_000) : 800 + Math.floor(rand() * 30_000),
          status: chance(0.01) ? 404 : 200,
        });
        if (p.prefetch && tt - lastNav > 20 * MIN && !p.roles.includes('admin')) {
          lastNav = tt;
          tagsAt(who, 'prefetching-ui');
          // the UI prefetches the admin menu's pages for everyone (403 for non-admins)
          for (const r of ADMIN_ROUTES.slice(0, 6)) await edge.api(tt + 2_600, who, held.access, r);
        }
      });
      t += between(30, 240) * 1000;
    }
    at(tEnd, tags, async () => {
      if (!held) return;
      const who = whereAt(p, d, tEnd);
      tagsAt(who);
      if (d.kind === 'desktop' && chance(0.6)) {
        await idp.logout(tEnd, who, held);
        if (p.logoutTail) {
          tagsAt(who, 'logout-tail');
          // another tab keeps polling with the same access token for a while
          for (let i = 1; i <= 3; i++) await edge.api(tEnd + i * (1_500 + Math.floor(rand() * 20_000)), who, held.access, ROUTES.notifications);
        }
      }
      held = null;
    });
  };

  for (const p of people) {
    for (let day = 0; day < days; day++) {
      const dayStart = start + day * DAY;
      const local = (h: number) => dayStart + (h - p.tz) * HOUR;
      const weekday = day % 7 < 5;
      const desktop = p.newDevice && day >= p.newDevice.day && p.newDevice.device.kind === 'desktop' ? p.newDevice.device : p.desktop;
      const phone = p.newDevice && day >= p.newDevice.day && p.newDevice.device.kind === 'phone' ? p.newDevice.device : p.phone;
      if (weekday || chance(0.3)) session(p, desktop, local(between(8, 10)), between(120, 420));
      if (chance(0.5)) session(p, desktop, local(between(13, 16)), between(30, 180));
      if (phone) {
        session(p, phone, local(between(7, 9)), between(10, 40));
        if (chance(0.7)) session(p, phone, local(between(18, 22)), between(15, 90));
      }
      if (p.nightOwl && chance(0.6)) session(p, desktop, local(between(23, 26)), between(30, 90), ['night-owl']);
    }
    if (p.roleGrant) {
      const g = p.roleGrant;
      at(g.at, p.cohorts, async () => {
        if (!p.roles.includes(g.role)) p.roles.push(g.role);
      });
    }
  }

  // ---------------- service clients ----------------
  const services = ['billing-worker', 'search-indexer', 'notifier', 'reporting', 'sync-agent'];
  for (const [si, clientId] of services.entries()) {
    const pods: Caller[] = [0, 1, 2, 3, 4].map((k) => ({
      ip: addressIn(si % 2 ? NETWORKS.awsAshburn : NETWORKS.awsFrankfurt, 1000 + si * 10 + k),
      ua: si % 2 ? UA.goClient : UA.okhttp,
    }));
    let token: { token: string; exp: number } | null = null;
    for (let t = start + between(0, 5) * MIN; t < end; t += between(2, 5) * MIN) {
      const tt = t;
      const pod = pods[Math.floor(rand() * pods.length)]!;
      at(tt, ['shared-service-token'], async () => {
        if (!token || tt >= token.exp - 5 * MIN) token = await idp.clientCredentials(tt, pods[0]!, clientId);
        await edge.api(tt + 100, pod, token.token, ROUTES.orders, { bytes: 5_000 + Math.floor(rand() * 20_000) });
      });
    }
  }
  // a nightly batch job: one token per tenant report, all within a few minutes at 02:00 UTC
  const batch: Caller = { ip: addressIn(NETWORKS.awsFrankfurt, 2000), ua: UA.goClient };
  for (let day = 0; day < days; day++) {
    for (let i = 0; i < 150; i++) {
      const tt = start + day * DAY + 2 * HOUR + i * 1_500;
      at(tt, ['batch-job'], async () => {
        const tok = await idp.clientCredentials(tt, batch, 'nightly-reports', 600);
        await edge.api(tt + 200, batch, tok.token, ROUTES.export, { bytes: 40_000 });
      });
    }
  }

  // ---------------- attacks (scored days only) ----------------
  const scored = (d: number, h: number) => start + d * DAY + h * HOUR;
  const victims = people.filter((p) => p.phone && !p.flight && !p.vpn);
  let vi = 0;
  const victim = () => victims[(vi++ * 37) % victims.length]!;
  const attackerHost = (n: number, net: Network = NETWORKS.digitalocean): Caller => ({ ip: addressIn(net, 30_000 + n), ua: UA.python });
  const d1 = 1;
  const d2 = Math.min(2, days - 1);

  // refresh token replayed after the victim rotated it (minutes later, from a cloud host)
  for (const [k, day] of [
    [0, d1],
    [1, d2],
    [2, d1],
  ] as const) {
    const v = victim();
    const l = newLabel('refresh-replay', ['refresh-token-reuse'], v.sub);
    const t = scored(day, 11 + k);
    let stolen: Held | null = null;
    attack(l, t, async () => {
      stolen = await idp.login(t, whereAt(v, v.desktop, t), v, v.desktop, v.password);
      if (stolen) await edge.api(t + 1_000, whereAt(v, v.desktop, t), stolen.access, ROUTES.orders);
    });
    attack(l, t + 16 * MIN, async () => {
      if (stolen) await idp.refresh(t + 16 * MIN, whereAt(v, v.desktop, t + 16 * MIN), stolen.refresh, 'web-portal');
    });
    attack(l, t + 40 * MIN, async () => {
      if (stolen) await idp.refresh(t + 40 * MIN, attackerHost(k), stolen.refresh, 'web-portal');
    });
  }
  // refresh token kept and replayed two days later, after more than 64 rotations
  {
    const v = victim();
    const l = newLabel('refresh-replay-late', ['refresh-token-reuse'], v.sub);
    let first: Held | null = null;
    let current: Held | null = null;
    const t0 = scored(0, 9);
    attack(l, t0, async () => {
      first = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
      current = first;
    });
    for (let i = 1; i <= 80; i++) {
      const t = t0 + i * 14 * MIN;
      attack(l, t, async () => {
        if (current) current = await idp.refresh(t, whereAt(v, v.desktop, t), current.refresh, 'web-portal');
      });
    }
    const tr = scored(d2, 15);
    attack(l, tr, async () => {
      if (first) await idp.refresh(tr, attackerHost(9, NETWORKS.hetzner), first.refresh, 'web-portal');
    });
  }
  // a stolen refresh token run in a loop (70 rotations), then the victim's own refresh is the reuse
  {
    const v = victim();
    const l = newLabel('refresh-loop', ['refresh-token-reuse', 'issuance-spike'], v.sub);
    const t0 = scored(d1, 14);
    let victimHeld: Held | null = null;
    let attackerHeld: Held | null = null;
    attack(l, t0, async () => {
      victimHeld = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
      attackerHeld = victimHeld;
    });
    for (let i = 1; i <= 70; i++) {
      const t = t0 + 60_000 + i * 20_000;
      attack(l, t, async () => {
        if (attackerHeld) attackerHeld = await idp.refresh(t, attackerHost(20), attackerHeld.refresh, 'web-portal');
        if (attackerHeld) await edge.api(t + 500, attackerHost(20), attackerHeld.access, ROUTES.orders, { bytes: 30_000 });
      });
    }
    const tv = t0 + 40 * MIN;
    attack(l, tv, async () => {
      if (victimHeld) await idp.refresh(tv, whereAt(v, v.desktop, tv), victimHeld.refresh, 'web-portal');
    });
  }
  // a stolen access token used from a cloud host abroad while the victim works
  for (const day of [d1, d2]) {
    const v = victim();
    const l = newLabel('stolen-access-token', ['token-multi-origin'], v.sub);
    const t0 = scored(day, 10);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    for (let i = 0; i < 8; i++) {
      const t = t0 + 30_000 + i * 50_000;
      attack(l, t, async () => {
        if (!held) return;
        await edge.api(t, whereAt(v, v.desktop, t), held.access, ROUTES.orders);
        await edge.api(t + 20_000, attackerHost(40 + day, day === d1 ? NETWORKS.awsAshburn : NETWORKS.digitalocean), held.access, ROUTES.orders);
      });
    }
  }
  // the same, with the victim's own browser string, from a residential address 240 km away
  {
    const v = people.find((p) => p.home.city === CITIES.berlin && !p.flight && !p.vpn) ?? victim();
    const l = newLabel('stolen-access-token-lookalike', ['token-multi-origin'], v.sub);
    const t0 = scored(d1, 16);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    for (let i = 0; i < 6; i++) {
      const t = t0 + 30_000 + i * 60_000;
      attack(l, t, async () => {
        if (!held) return;
        await edge.api(t, whereAt(v, v.desktop, t), held.access, ROUTES.orders);
        await edge.api(t + 25_000, { ip: addressIn(NETWORKS.dtagLeipzig, 777), ua: v.desktop.ua }, held.access, ROUTES.order, { path: '/api/orders/55501' });
      });
    }
  }
  // a revoked access token replayed from elsewhere after the victim logged out
  for (const day of [d1, d2]) {
    const v = victim();
    const l = newLabel('revoked-token-replay', ['revoked-token-use'], v.sub);
    const t0 = scored(day, 12);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
      if (held) await idp.logout(t0 + 5 * MIN, whereAt(v, v.desktop, t0), held);
    });
    attack(l, t0 + 15 * MIN, async () => {
      if (held) await edge.api(t0 + 15 * MIN, attackerHost(50 + day), held.access, ROUTES.orders);
    });
    attack(l, t0 + 16 * MIN, async () => {
      if (held) await edge.api(t0 + 16 * MIN, attackerHost(50 + day), held.access, ROUTES.profile);
    });
  }
  // a revoked (opaque) refresh token replayed
  {
    const v = victim();
    const l = newLabel('revoked-refresh-replay', ['revoked-token-use', 'refresh-token-reuse'], v.sub);
    const t0 = scored(d2, 9);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
      if (held) await idp.logout(t0 + 3 * MIN, whereAt(v, v.desktop, t0), held);
    });
    attack(l, t0 + 2 * HOUR, async () => {
      if (held) await idp.refresh(t0 + 2 * HOUR, attackerHost(60), held.refresh, 'web-portal');
    });
  }
  // credential stuffing spread over hundreds of addresses: 1-2 attempts per address per minute
  for (const day of [d1, d2]) {
    const l = newLabel('credential-stuffing', ['auth-failure-burst'], null);
    const t0 = scored(day, 3);
    const nets = [NETWORKS.proxyBr, NETWORKS.proxyVn, NETWORKS.proxyNg];
    for (let i = 0; i < 600; i++) {
      const t = t0 + i * 12_000;
      const who: Caller = { ip: addressIn(nets[i % 3]!, 5_000 + ((i * 7) % 300)), ua: UA.chromeWin };
      attack(l, t, async () => {
        await edge.tokenEndpoint(
          t,
          who,
          { grant_type: 'password', username: `leaked.${i}@mail.example`, password: 'Summer2024!', client_id: 'web-portal' },
          400,
          { error: 'invalid_grant' },
        );
      });
    }
  }
  // brute force on one account from many addresses, slowly
  {
    const v = victim();
    const l = newLabel('brute-force-distributed', ['auth-failure-burst'], v.sub);
    const t0 = scored(d1, 20);
    for (let i = 0; i < 200; i++) {
      const t = t0 + i * 18_000;
      const who: Caller = { ip: addressIn(NETWORKS.proxyBr, 9_000 + i), ua: UA.chromeWin };
      attack(l, t, async () => {
        await edge.tokenEndpoint(t, who, { grant_type: 'password', username: v.username, password: `guess-${i}`, client_id: 'web-portal' }, 400, {
          error: 'invalid_grant',
        });
      });
    }
  }
  // forged tokens naming real accounts: alg none, and a signature by the attacker's own key
  for (const [k, kind] of [
    [0, 'none'],
    [1, 'forged-key'],
    [2, 'forged-key'],
  ] as const) {
    const v = victim();
    const l = newLabel('forged-token', ['token-tampering'], v.sub);
    const t = scored(k % 2 ? d1 : d2, 13 + k);
    attack(l, t, async () => {
      const iat = Math.floor(t / 1000);
      const claims = {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: v.sub,
        client_id: 'web-portal',
        jti: `forged-${k}`,
        scope: 'orders:read admin:read',
        roles: ['admin'],
        iat,
        exp: iat + 900,
      };
      const token =
        kind === 'none'
          ? `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
          : await edge.sign(claims, { key: 'forged' });
      for (let i = 0; i < 3; i++) await edge.api(t + i * 2_000, attackerHost(70 + k), token, ADMIN_ROUTES[i]!);
    });
  }
  // a token from the staging realm, which shares the production signing key
  {
    const v = victim();
    const l = newLabel('wrong-issuer', ['unexpected-issuer'], v.sub);
    const t = scored(d2, 11);
    attack(l, t, async () => {
      const a = await idp.access(
        t,
        { sub: v.sub, clientId: 'web-portal', sid: null, scopes: ['orders:read', 'admin:read'], roles: ['admin'] },
        { iss: STAGING_ISSUER },
      );
      for (let i = 0; i < 3; i++) await edge.api(t + i * 5_000, attackerHost(80), a.token, ROUTES.orders);
    });
  }
  // guessing opaque tokens: random strings as bearer tokens, slowly, from one host
  {
    const l = newLabel('token-guessing', ['token-guessing'], null);
    const t0 = scored(d1, 1);
    for (let i = 0; i < 240; i++) {
      const t = t0 + i * 15_000;
      attack(l, t, async () => {
        await edge.api(t, attackerHost(90, NETWORKS.hetzner), createHash('sha1').update(`g${i}`).digest('hex'), ROUTES.orders);
      });
    }
  }
  // a captured (expired) access token replayed slowly, every 12 minutes for hours
  {
    const v = victim();
    const l = newLabel('expired-replay-slow', ['expired-token-replay'], v.sub);
    const t0 = scored(d1, 8);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    for (let i = 0; i < 20; i++) {
      const t = t0 + HOUR + i * 12 * MIN;
      attack(l, t, async () => {
        if (held) await edge.api(t, attackerHost(100), held.access, ROUTES.orders);
      });
    }
  }
  // an employee walking the admin API slowly with a token that lacks the scope
  {
    const v = victim();
    const l = newLabel('admin-probing-slow', ['privilege-change-in-session'], v.sub);
    const t0 = scored(d2, 10);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    for (let i = 0; i < 12; i++) {
      const t = t0 + 60_000 + i * 6 * MIN;
      attack(l, t, async () => {
        if (!held) return;
        if (t >= held.accessExp - 60_000) held = await idp.refresh(t, whereAt(v, v.desktop, t), held.refresh, 'web-portal');
        if (held) await edge.api(t + 1_000, { ...whereAt(v, v.desktop, t), ua: UA.curl }, held.access, ADMIN_ROUTES[i]!);
      });
    }
  }
  // an insider pulling ~2 MB responses in a loop (data exfiltration by volume)
  {
    const v = victim();
    const l = newLabel('exfiltration', ['response-volume'], v.sub);
    const t0 = scored(d1, 15);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    for (let i = 0; i < 350; i++) {
      const t = t0 + 30_000 + i * 20_000;
      attack(l, t, async () => {
        if (!held) return;
        if (t >= held.accessExp - 60_000) held = await idp.refresh(t, whereAt(v, v.desktop, t), held.refresh, 'web-portal');
        if (held) await edge.api(t + 500, whereAt(v, v.desktop, t), held.access, ROUTES.export, { bytes: 1_900_000 + Math.floor(rand() * 200_000) });
      });
    }
  }
  // enumeration: sequential order ids, mostly someone else's (403) or absent (404)
  {
    const v = victim();
    const l = newLabel('enumeration', ['resource-enumeration'], v.sub);
    const t0 = scored(d2, 14);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    for (let i = 0; i < 700; i++) {
      const t = t0 + 10_000 + i * 2_500;
      attack(l, t, async () => {
        if (!held) return;
        if (t >= held.accessExp - 60_000) held = await idp.refresh(t, whereAt(v, v.desktop, t), held.refresh, 'web-portal');
        if (held)
          await edge.api(t + 300, { ...whereAt(v, v.desktop, t), ua: UA.python }, held.access, ROUTES.order, {
            path: `/api/orders/${200_000 + i}`,
            status: i % 10 === 0 ? 200 : i % 3 ? 403 : 404,
            bytes: 300,
          });
      });
    }
  }
  // a stolen password used at 03:30 local time (the owner never works at night), from the owner's country
  for (const day of [d1, d2]) {
    const v = people.find((p, i) => i > 10 * day && !p.nightOwl && p.home.city === CITIES.paris && !p.flight && !p.vpn) ?? victim();
    const l = newLabel('unusual-hour', ['unusual-hour'], v.sub);
    const t0 = start + day * DAY + (3.5 - v.tz) * HOUR;
    // a machine the owner never used, on the owner's own ISP (a neighbour's line, a compromised router)
    const who: Caller = { ip: addressIn(v.home.isp, 50_000 + day), ua: v.desktop.ua === UA.firefoxLinux ? UA.edgeWin : UA.firefoxLinux };
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, who, v, { ua: who.ua, clientId: 'web-portal', kind: 'desktop', host: 1 }, v.password);
    });
    for (let i = 0; i < 10; i++)
      attack(l, t0 + 60_000 + i * 45_000, async () => {
        if (held) await edge.api(t0 + 60_000 + i * 45_000, who, held.access, ROUTES.orders, { bytes: 40_000 });
      });
  }
  // a leaver's session still in use after deprovisioning
  {
    const v = victim();
    const l = newLabel('leaver-activity', ['deprovisioned-subject-activity'], v.sub);
    const t0 = scored(d2, 16);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    attack(l, t0 + 20 * MIN, async () => {
      edge.lifecycle(t0 + 20 * MIN, 'subject.deprovisioned', v.sub);
    });
    attack(l, t0 + 50 * MIN, async () => {
      if (held) await idp.refresh(t0 + 50 * MIN, whereAt(v, v.desktop, t0), held.refresh, 'web-portal');
    });
  }
  // a token minted with an admin role in the middle of a session (issuer misconfiguration or compromise)
  {
    const v = victim();
    const l = newLabel('privilege-escalation', ['privilege-change-in-session'], v.sub);
    const t0 = scored(d1, 17);
    let held: Held | null = null;
    attack(l, t0, async () => {
      held = await idp.login(t0, whereAt(v, v.desktop, t0), v, v.desktop, v.password);
    });
    attack(l, t0 + 10 * MIN, async () => {
      if (!held) return;
      const a = await idp.access(t0 + 10 * MIN, {
        sub: v.sub,
        clientId: 'web-portal',
        sid: held.family.sid,
        scopes: ['orders:read', 'admin:read'],
        roles: [...v.roles, 'admin'],
      });
      await edge.api(t0 + 10 * MIN + 1_000, whereAt(v, v.desktop, t0), a.token, ADMIN_ROUTES[0]!);
    });
  }
  // a token minted to live 30 days (signed with the real key)
  {
    const v = victim();
    const l = newLabel('long-lived-token', ['long-lived-token'], v.sub);
    const t0 = scored(d2, 13);
    attack(l, t0, async () => {
      const a = await idp.access(t0, { sub: v.sub, clientId: 'web-portal', sid: null, scopes: ['orders:read'], roles: v.roles }, { lifetimeSec: 30 * 86_400 });
      await edge.api(t0 + 1_000, attackerHost(110), a.token, ROUTES.orders);
    });
  }
  // stolen client credentials minting tokens in a loop
  {
    const l = newLabel('client-credential-abuse', ['issuance-spike'], null);
    const t0 = scored(d1, 19);
    for (let i = 0; i < 300; i++) {
      const t = t0 + i * 1_000;
      attack(l, t, async () => {
        await idp.clientCredentials(t, attackerHost(120, NETWORKS.hetzner), 'reporting', 3600);
      });
    }
  }
  // account takeover: the password used from an attacker's machine in another country
  for (const day of [d1, d2]) {
    const v = victim();
    const l = newLabel('account-takeover', ['impossible-travel', 'new-device-for-subject'], v.sub);
    const t0 = start + day * DAY + (11 - v.tz) * HOUR;
    const who: Caller = { ip: addressIn(NETWORKS.proxyVn, 40_000 + day), ua: UA.chromeWin === v.desktop.ua ? UA.firefoxLinux : UA.chromeWin };
    let held: Held | null = null;
    attack(l, t0, async () => {
      await edge.api(t0 - 5 * MIN, whereAt(v, v.desktop, t0), null, ROUTES.profile); // (the victim's browser, unauthenticated)
      held = await idp.login(t0, who, v, { ua: who.ua, clientId: 'web-portal', kind: 'desktop', host: 2 }, v.password);
    });
    for (let i = 0; i < 5; i++)
      attack(l, t0 + (i + 1) * 60_000, async () => {
        if (held) await edge.api(t0 + (i + 1) * 60_000, who, held.access, ROUTES.orders);
      });
  }

  // ---------------- run it, in time order ----------------
  steps.sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const s of steps) await s.run();
  const events = edge.events.slice().sort((a, b) => a.occurredAt - b.occurredAt);
  for (const a of attacks) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (const e of events)
      if (a.eventIds.has(e.id)) {
        lo = Math.min(lo, e.occurredAt);
        hi = Math.max(hi, e.occurredAt);
      }
    a.start = lo;
    a.end = hi;
  }
  return {
    events,
    attacks: attacks.filter((a) => a.eventIds.size > 0),
    cohorts,
    start,
    end,
    learningDays: 1,
    days,
    activeSubjectsPerDay: nPeople + services.length + 1,
  };
}
