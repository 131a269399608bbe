/**
 * `npm run demo:traffic`: a few minutes of realistic traffic through the interceptor, attacks
 * included, so that rejections, revocations and alerts appear. It takes the same settings as
 * `npm start` (AUDIT_HOST, AUDIT_INTERCEPTOR_PORT, AUDIT_ES_PORT or AUDIT_ES_URL), or
 *   AUDIT_DEMO_EDGE (the edge URL)  AUDIT_DEMO_DURATION_S (180)  AUDIT_DEMO_RPS (20)
 *   AUDIT_JWT_CLOCK_TOLERANCE_SEC (30, as the interceptor's)
 * Each line it prints says what it just did; the attacks are labelled, and at the end a table
 * shows each attack with the alerts it raised (read from the alerts index), and any alert that
 * no labelled attack explains.
 */
import { DEMO_ERRORS } from './errors.js';
const env = process.env;
const host = env.AUDIT_HOST || '127.0.0.1';
const edge = env.AUDIT_DEMO_EDGE || `http://${host}:${env.AUDIT_INTERCEPTOR_PORT || 8080}`;
const esUrl = env.AUDIT_ES_URL || `http://${host}:${env.AUDIT_ES_PORT || 9200}`;
const clockToleranceMs = Number(env.AUDIT_JWT_CLOCK_TOLERANCE_SEC || 30) * 1000;
const durationMs = Number(env.AUDIT_DEMO_DURATION_S || 180) * 1000;
const rps = Number(env.AUDIT_DEMO_RPS || 20);
const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
const users: [string, string][] = [
  ['alice', 'alice-pw'],
  ['bob', 'bob-pw'],
  ['carol', 'carol-pw'],
];
const ips = ['203.0.113.10', '198.51.100.23', '192.0.2.77'];
const agents = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
];
const say = (what: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${what}\n`);

interface Session {
  user: string;
  access: string;
  refresh?: string;
  ip: string;
  ua: string;
  /** When the access token was last obtained: a browser refreshes before expiry, not on every click. */
  since: number;
}

/**
 * How often a background session refreshes. Real clients refresh about once per access-token lifetime;
 * refreshing on every tenth request (as this generator once did) mints a token per user every couple
 * of seconds, which is exactly what the issuance-spike rule is meant to flag.
 */
const REFRESH_EVERY_MS = 45_000;

async function token(form: Record<string, string>, ip: string): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${edge}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, string> };
}

async function call(s: { access: string; ip: string; ua: string }, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${edge}${path}`, {
    method,
    headers: { authorization: `Bearer ${s.access}`, 'x-forwarded-for': s.ip, 'user-agent': s.ua, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  await res.arrayBuffer();
  return res.status;
}

async function login(user: string, pw: string, ip: string, ua: string, extra: Record<string, string> = {}): Promise<Session | undefined> {
  const r = await token({ grant_type: 'password', username: user, password: pw, ...extra }, ip);
  if (r.status !== 200) {
    say(`login ${user} failed: ${r.status}`);
    return undefined;
  }
  return { user, access: r.body.access_token!, refresh: r.body.refresh_token, ip, ua, since: Date.now() };
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/**
 * The background sessions by user (filled by main): attacks that need a valid token borrow one
 * instead of signing in again, so the attacks add no sign-ins of their own to a user's issuance rate.
 */
const background = new Map<string, Session>();

/** A token issued at the start with a 1 s lifetime: expired beyond the clock tolerance by the time its attack runs. */
let expiring: { session: Session; expiresAt: number } | undefined;

/** Each labelled attack: what it is, the rule(s) meant to catch it, and how to play it. */
const attacks: [string, string[], () => Promise<void>][] = [
  [
    'refresh-token reuse (stolen refresh token replayed after rotation)',
    ['refresh-token-reuse'],
    async () => {
      const s = await login('bob', 'bob-pw', ips[1]!, agents[0]!);
      if (!s?.refresh) return;
      await token({ grant_type: 'refresh_token', refresh_token: s.refresh }, s.ip);
      const reuse = await token({ grant_type: 'refresh_token', refresh_token: s.refresh }, '198.18.0.66');
      say(`  reuse -> ${reuse.status} ${reuse.body.error ?? ''}`);
    },
  ],
  [
    'revoked token used again',
    ['revoked-token-use'],
    async () => {
      const s = await login('alice', 'alice-pw', ips[0]!, agents[0]!);
      if (!s) return;
      await fetch(`${edge}/oauth/revoke`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': s.ip, 'user-agent': s.ua },
        body: new URLSearchParams({ token: s.access }),
      });
      // later than the in-flight grace the detector allows right after a revocation, and from
      // another machine (the revoking browser's own tabs going on for a while are not a stolen copy)
      await new Promise((r) => setTimeout(r, 5500));
      say(`  revoked token -> ${await call({ ...s, ip: '198.18.0.66', ua: 'python-requests/2.31' }, 'GET', '/api/orders')}`);
    },
  ],
  [
    'alg:none and forged signatures',
    ['token-tampering'],
    async () => {
      const now = Math.floor(Date.now() / 1000);
      const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'carol', scope: 'admin', exp: now + 600 })}.`;
      say(`  alg none -> ${await call({ access: none, ip: '198.18.0.9', ua: 'curl/8.4' }, 'GET', '/api/admin/users')}`);
      // a genuine token's header and signature over a forged payload, from another machine
      const s = background.get('bob');
      if (!s) return;
      const [h, , sig] = s.access.split('.');
      const forged = `${h}.${b64({ sub: 'carol', roles: ['admin'], scope: 'admin', exp: now + 600 })}.${sig}`;
      say(`  forged payload -> ${await call({ ...s, access: forged, ip: '198.18.0.9', ua: 'curl/8.4' }, 'GET', '/api/admin/users')}`);
    },
  ],
  [
    'burst of garbage tokens from one address (token guessing)',
    ['token-guessing', 'auth-failure-burst', 'token-tampering'],
    async () => {
      const codes: number[] = [];
      for (let i = 0; i < 25; i++)
        codes.push(
          await call({ access: `guess.${i}.${Math.random().toString(36).slice(2)}`, ip: '198.18.0.200', ua: 'python-requests/2.31' }, 'GET', '/api/orders'),
        );
      say(`  25 guesses -> ${[...new Set(codes)].join(',')}`);
    },
  ],
  [
    'expired token replayed',
    ['expired-token-replay'],
    async () => {
      if (!expiring) return;
      // Within the clock tolerance an expired token is still accepted, as RFC 7519 allows: replay it beyond.
      const wait = expiring.expiresAt + clockToleranceMs + 2_000 - Date.now();
      if (wait > 0) {
        say(`  waiting ${Math.ceil(wait / 1000)} s until the token is expired beyond the ${clockToleranceMs / 1000} s clock tolerance`);
        await new Promise((r) => setTimeout(r, wait));
      }
      const s = expiring.session;
      // replayed from several machines (one client retrying before it refreshes is not a replay)
      const codes = [];
      for (let i = 0; i < 6; i++) codes.push(await call({ ...s, ip: `198.18.7.${i + 1}`, ua: 'curl/8.4' }, 'GET', '/api/orders'));
      say(`  expired x6 from 6 addresses -> ${[...new Set(codes)].join(',')}`);
    },
  ],
  [
    'one token from many places (token theft)',
    ['token-multi-origin', 'impossible-travel'],
    async () => {
      const s = await login('carol', 'carol-pw', ips[2]!, agents[0]!);
      if (!s) return;
      for (const ip of ['198.18.1.1', '198.18.2.2', '198.18.3.3', '198.18.4.4', '198.18.5.5']) await call({ ...s, ip, ua: 'curl/8.4' }, 'GET', '/api/orders');
      say('  same token from 5 addresses');
    },
  ],
  [
    'non-admin reaching an admin route (insufficient scope)',
    ['auth-failure-burst', 'privilege-change-in-session'],
    async () => {
      const s = background.get('bob');
      if (!s) return;
      const codes = [];
      // bob's own session walking the admin API (a UI prefetching the same page or two is not probing)
      for (const page of ['users', 'roles', 'audit', 'keys', 'billing', 'tenants', 'settings', 'sessions'])
        codes.push(await call(s, 'GET', `/api/admin/${page}`));
      say(`  8 admin routes as bob -> ${[...new Set(codes)].join(',')}`);
    },
  ],
];

interface Played {
  name: string;
  rules: string[];
  start: number;
  end: number;
}

interface AlertDoc {
  rule?: { name?: string };
  event?: { id?: string; start?: string; end?: string };
  user?: { id?: string };
  source?: { ip?: string };
  jwt_audit?: { alert?: { severity?: string } };
}

/** The alerts raised since `since`, from the alerts index (empty, with a note, when it cannot be read). */
async function alertsSince(since: number): Promise<AlertDoc[] | undefined> {
  try {
    const res = await fetch(`${esUrl}/logs-jwt_audit.alerts-*/_search?ignore_unavailable=true&allow_no_indices=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 1000, sort: [{ '@timestamp': 'asc' }], query: { range: { '@timestamp': { gte: new Date(since).toISOString() } } } }),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { hits?: { hits?: { _source: AlertDoc }[] } };
    return (body.hits?.hits ?? []).map((h) => h._source);
  } catch {
    return undefined;
  }
}

/** An alert belongs to an attack when its rule is one meant for it and it fired on what happened while the attack ran. */
function explains(p: Played, a: AlertDoc): boolean {
  const first = Date.parse(a.event?.start ?? '');
  const last = Date.parse(a.event?.end ?? a.event?.start ?? '');
  return p.rules.includes(a.rule?.name ?? '') && last >= p.start - 1_000 && first <= p.end + 1_000;
}

async function closingTable(played: Played[], since: number): Promise<void> {
  // The pipeline needs a few seconds from the last request to a searchable alert.
  let alerts: AlertDoc[] | undefined;
  const deadline = Date.now() + 20_000;
  for (;;) {
    alerts = await alertsSince(since);
    const missing = played.filter((p) => !(alerts ?? []).some((a) => explains(p, a)));
    if (alerts === undefined || missing.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  if (alerts === undefined) {
    say(`cannot read alerts from ${esUrl} (set AUDIT_ES_URL): no closing table`);
    return;
  }
  say('attack -> alerts raised');
  const explained = new Set<AlertDoc>();
  let caught = 0;
  let folded = 0;
  // An attack played again within its rule's suppression window (10 min for most rules) by the same
  // users and addresses raises no new alert: the detector folds it into the first run's incident
  // and reports the count in a roll-up alert when the window closes, after this run.
  const firstAlert = new Map<string, string>();
  for (const p of played) {
    const mine = alerts.filter((a) => explains(p, a));
    for (const a of mine) explained.add(a);
    const rules = [...new Set(mine.map((a) => `${a.rule?.name} (${a.jwt_audit?.alert?.severity ?? '?'})`))].join(', ');
    if (mine.length > 0) {
      caught++;
      if (!firstAlert.has(p.name)) firstAlert.set(p.name, rules);
      say(`  ALERTED  ${p.name.padEnd(60)} ${rules}`);
    } else if (firstAlert.has(p.name)) {
      folded++;
      say(
        `  FOLDED   ${p.name.padEnd(60)} into its first run's ${firstAlert.get(p.name)} (same rule and key within the suppression window; a roll-up alert follows when it closes)`,
      );
    } else {
      say(`  MISSED   ${p.name.padEnd(60)} none (expected ${p.rules.join(' or ')})`);
    }
  }
  const others = alerts.filter((a) => !explained.has(a));
  const missed = played.length - caught - folded;
  say(
    `${caught} of ${played.length} labelled attacks raised their alert, ${folded} repeat(s) folded into an earlier alert, ${missed} missed; ${others.length} other alert(s) no labelled attack explains${others.length ? ':' : ''}`,
  );
  const byRule = new Map<string, number>();
  for (const a of others) byRule.set(a.rule?.name ?? '?', (byRule.get(a.rule?.name ?? '?') ?? 0) + 1);
  for (const [rule, n] of byRule) say(`  ${rule} x${n}`);
}

async function main(): Promise<void> {
  const since = Date.now();
  say(`traffic to ${edge} for ${durationMs / 1000} s at ~${rps} requests/s`);
  const short = await login('alice', 'alice-pw', ips[0]!, agents[1]!, { demo_ttl: '1' });
  if (short) expiring = { session: short, expiresAt: Date.now() + 1_000 };
  const played: Played[] = [];
  const sessions: Session[] = [];
  for (const [u, pw] of users) {
    const s = await login(u, pw, ips[users.findIndex(([x]) => x === u)]!, agents[0]!);
    if (s) {
      sessions.push(s);
      background.set(u, s);
    }
  }
  if (sessions.length === 0) throw DEMO_ERRORS.AUDIT_ERR_DEMO_LOGIN.create(edge);
  const end = Date.now() + durationMs;
  let n = 0;
  let nextAttack = Date.now() + 5_000;
  let attack = 0;
  while (Date.now() < end) {
    const s = sessions[n % sessions.length]!;
    const roll = n % 10;
    try {
      if (s.refresh && Date.now() - s.since >= REFRESH_EVERY_MS) {
        const r = await token({ grant_type: 'refresh_token', refresh_token: s.refresh }, s.ip);
        if (r.status === 200) Object.assign(s, { access: r.body.access_token, refresh: r.body.refresh_token, since: Date.now() });
      } else if (roll < 7) await call(s, 'GET', '/api/orders');
      else if (roll < 9) await call(s, 'GET', `/api/orders/${1041 + (n % 3)}`);
      else await call(s, 'POST', '/api/orders', { sku: 'A-1001', quantity: 1 + (n % 3), card: '4111 1111 1111 1111', email: `${s.user}@example.com` });
      if (Date.now() >= nextAttack) {
        const [name, rules, run] = attacks[attack++ % attacks.length]!;
        say(`ATTACK ${name}`);
        const start = Date.now();
        await run();
        played.push({ name, rules, start, end: Date.now() });
        nextAttack = Date.now() + 10_000;
      }
    } catch (err) {
      say(`request failed: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    n++;
    if (n % 200 === 0) say(`${n} requests sent`);
    await new Promise((r) => setTimeout(r, 1000 / rps));
  }
  say(`done: ${n} requests, ${played.length} labelled attacks`);
  await closingTable(played, since);
}

await main().catch((err: unknown) => {
  process.stderr.write(`demo:traffic: ${(err as Error).message}\n`);
  process.exit(1);
});
