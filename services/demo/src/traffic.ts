/**
 * `npm run demo:traffic`: a few minutes of realistic traffic through the interceptor, attacks
 * included, so that rejections, revocations and alerts appear. Talks HTTP only (the edge URL).
 *   AUDIT_DEMO_EDGE (http://127.0.0.1:8080)  AUDIT_DEMO_DURATION_S (180)  AUDIT_DEMO_RPS (20)
 * Each line it prints says what it just did; the attacks are labelled.
 */
const edge = process.env.AUDIT_DEMO_EDGE ?? 'http://127.0.0.1:8080';
const durationMs = Number(process.env.AUDIT_DEMO_DURATION_S ?? 180) * 1000;
const rps = Number(process.env.AUDIT_DEMO_RPS ?? 20);
const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
const users: [string, string][] = [['alice', 'alice-pw'], ['bob', 'bob-pw'], ['carol', 'carol-pw']];
const ips = ['203.0.113.10', '198.51.100.23', '192.0.2.77'];
const agents = ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'];
const say = (what: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${what}\n`);

interface Session {
  user: string;
  access: string;
  refresh?: string;
  ip: string;
  ua: string;
}

async function token(form: Record<string, string>, ip: string): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${edge}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip }, body: new URLSearchParams(form) });
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
  return { user, access: r.body.access_token!, refresh: r.body.refresh_token, ip, ua };
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

const attacks: [string, () => Promise<void>][] = [
  ['refresh-token reuse (stolen refresh token replayed after rotation)', async () => {
    const s = await login('bob', 'bob-pw', ips[1]!, agents[0]!);
    if (!s?.refresh) return;
    await token({ grant_type: 'refresh_token', refresh_token: s.refresh }, s.ip);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: s.refresh }, '198.18.0.66');
    say(`  reuse -> ${reuse.status} ${reuse.body.error ?? ''}`);
  }],
  ['revoked token used again', async () => {
    const s = await login('alice', 'alice-pw', ips[0]!, agents[0]!);
    if (!s) return;
    await fetch(`${edge}/oauth/revoke`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: s.access }) });
    // later than the in-flight grace the detector allows right after a revocation
    await new Promise((r) => setTimeout(r, 3000));
    say(`  revoked token -> ${await call(s, 'GET', '/api/orders')}`);
  }],
  ['alg:none and forged signatures', async () => {
    const now = Math.floor(Date.now() / 1000);
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'carol', scope: 'admin', exp: now + 600 })}.`;
    say(`  alg none -> ${await call({ access: none, ip: '198.18.0.9', ua: 'curl/8.4' }, 'GET', '/api/admin/users')}`);
    const s = await login('bob', 'bob-pw', '198.18.0.9', 'curl/8.4');
    if (!s) return;
    const [h, , sig] = s.access.split('.');
    const forged = `${h}.${b64({ sub: 'carol', roles: ['admin'], scope: 'admin', exp: now + 600 })}.${sig}`;
    say(`  forged payload -> ${await call({ ...s, access: forged }, 'GET', '/api/admin/users')}`);
  }],
  ['burst of garbage tokens from one address (token guessing)', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 25; i++) codes.push(await call({ access: `guess.${i}.${Math.random().toString(36).slice(2)}`, ip: '198.18.0.200', ua: 'python-requests/2.31' }, 'GET', '/api/orders'));
    say(`  25 guesses -> ${[...new Set(codes)].join(',')}`);
  }],
  ['expired token replayed', async () => {
    const s = await login('alice', 'alice-pw', ips[0]!, agents[1]!, { demo_ttl: '1' });
    if (!s) return;
    await new Promise((r) => setTimeout(r, 2500));
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push(await call(s, 'GET', '/api/orders'));
    say(`  expired x6 -> ${[...new Set(codes)].join(',')}`);
  }],
  ['one token from many places (token theft)', async () => {
    const s = await login('carol', 'carol-pw', ips[2]!, agents[0]!);
    if (!s) return;
    for (const ip of ['198.18.1.1', '198.18.2.2', '198.18.3.3', '198.18.4.4', '198.18.5.5']) await call({ ...s, ip, ua: 'curl/8.4' }, 'GET', '/api/orders');
    say('  same token from 5 addresses');
  }],
  ['non-admin reaching an admin route (insufficient scope)', async () => {
    const s = await login('bob', 'bob-pw', ips[1]!, agents[1]!);
    if (!s) return;
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push(await call(s, 'GET', '/api/admin/users'));
    say(`  admin route as bob -> ${[...new Set(codes)].join(',')}`);
  }],
];

async function main(): Promise<void> {
  say(`traffic to ${edge} for ${durationMs / 1000} s at ~${rps} requests/s`);
  const sessions: Session[] = [];
  for (const [u, pw] of users) {
    const s = await login(u, pw, ips[users.findIndex(([x]) => x === u)]!, agents[0]!);
    if (s) sessions.push(s);
  }
  if (sessions.length === 0) throw new Error(`cannot log in through ${edge}: is npm start running?`);
  const end = Date.now() + durationMs;
  let n = 0;
  let nextAttack = Date.now() + 5_000;
  let attack = 0;
  while (Date.now() < end) {
    const s = sessions[n % sessions.length]!;
    const roll = n % 10;
    try {
      if (roll < 6) await call(s, 'GET', '/api/orders');
      else if (roll < 8) await call(s, 'GET', `/api/orders/${1041 + (n % 3)}`);
      else if (roll === 8) await call(s, 'POST', '/api/orders', { sku: 'A-1001', quantity: 1 + (n % 3), card: '4111 1111 1111 1111', email: `${s.user}@example.com` });
      else if (s.refresh) {
        const r = await token({ grant_type: 'refresh_token', refresh_token: s.refresh }, s.ip);
        if (r.status === 200) Object.assign(s, { access: r.body.access_token, refresh: r.body.refresh_token });
      }
      if (Date.now() >= nextAttack) {
        const [name, run] = attacks[attack++ % attacks.length]!;
        say(`ATTACK ${name}`);
        await run();
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
  say(`done: ${n} requests`);
}

await main().catch((err: unknown) => {
  process.stderr.write(`demo:traffic: ${(err as Error).message}\n`);
  process.exit(1);
});
