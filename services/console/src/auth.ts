import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createVerifier, remoteJwksStore, rolesOf, scopesOf, type Verifier } from '@jwt-audit/jwt';
import type { Logger } from '@jwt-audit/runtime';
import type { ConsoleConfig } from './config.js';

/**
 * Who is signed in. Sign-in takes a JWT and verifies it with packages/jwt exactly as the
 * interceptor does (JWKS, issuer, audience, algorithms, lifetime); its roles (`roles`,
 * `realm_access.roles`, `groups`) and scopes (`scope`, `scp`) must grant the read permission.
 * The session is a random cookie value kept in memory; the token itself is never stored, logged
 * or sent anywhere. A demo login (name only) exists when configured, for `npm start`.
 */
export interface User {
  sub: string;
  permissions: string[];
  method: 'jwt' | 'demo';
  /** A digest of the session cookie: names the console session in access events, reveals nothing. */
  sessionRef: string;
  expiresAt: number;
  /**
   * The per-session CSRF token every form that changes state (an approval decision) carries;
   * null for a bearer request (no ambient credential a foreign page could ride on).
   */
  csrf: string | null;
}

export type SignIn = { ok: true; user: User; cookie: string } | { ok: false; status: number; reason: string };

export interface Auth {
  readonly demo: boolean;
  readonly jwt: boolean;
  signInWithToken(token: string): Promise<SignIn>;
  signInDemo(name: string): SignIn;
  /** The user of a request's session cookie, or of a bearer token (API use), if any. */
  userOf(cookieHeader: string | undefined, authorization: string | undefined): Promise<User | undefined>;
  signOut(cookieHeader: string | undefined): User | undefined;
}

export const SESSION_COOKIE = 'audit_console_session';
const DEMO_NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const MAX_SESSIONS = 10_000;

/** Whether a form's CSRF token is the session's (constant time). A bearer request needs none. */
export function csrfMatches(user: User, given: string | null): boolean {
  if (user.csrf === null) return true;
  if (given === null) return false;
  const a = Buffer.from(user.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function createAuth(config: ConsoleConfig['auth'], logger: Logger, now: () => number = Date.now): Auth {
  const log = logger.child({ component: 'auth' });
  const sessions = new Map<string, User>();
  let verifier: Verifier | undefined;
  if (config.jwksUrl) {
    verifier = createVerifier({
      keys: remoteJwksStore({ url: config.jwksUrl, onError: (err) => log.warn({ err: err.message }, 'JWKS fetch failed') }),
      algorithms: config.algorithms,
      issuer: config.issuer,
      ...(config.audience ? { audience: config.audience } : {}),
      requiredClaims: ['sub'],
    });
  }
  const digest = (cookie: string) => createHash('sha256').update(cookie).digest('hex').slice(0, 32);
  const open = (sub: string, permissions: string[], method: User['method'], until: number): SignIn => {
    const cookie = randomBytes(32).toString('base64url');
    const user: User = {
      sub,
      permissions,
      method,
      sessionRef: `console-${digest(cookie)}`,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: Math.min(until, now() + config.sessionTtlMs),
    };
    if (sessions.size >= MAX_SESSIONS) {
      // the oldest session gives way: a flood of sign-ins cannot grow memory without bound
      const first = sessions.keys().next().value;
      if (first !== undefined) sessions.delete(first);
    }
    sessions.set(cookie, user);
    return { ok: true, user, cookie };
  };
  const verify = async (
    token: string,
  ): Promise<{ ok: true; sub: string; permissions: string[]; exp: number } | { ok: false; status: number; reason: string }> => {
    if (!verifier) return { ok: false, status: 400, reason: 'sign-in with a token is not configured on this console (no JWKS URL)' };
    const out = await verifier.verify(token.trim());
    if (!out.ok) return { ok: false, status: 401, reason: `the token was refused: ${out.reason}` };
    const granted = [...new Set([...rolesOf(out.claims), ...scopesOf(out.claims)])];
    const permissions = [config.readRole, config.approveRole].filter((p) => granted.includes(p));
    if (!permissions.includes(config.readRole))
      return { ok: false, status: 403, reason: `the token does not grant ${config.readRole} (in its roles or scope)` };
    return { ok: true, sub: String(out.claims.sub), permissions, exp: Number(out.claims.exp) * 1000 };
  };
  return {
    demo: config.demoLogin,
    jwt: verifier !== undefined,
    async signInWithToken(token) {
      const v = await verify(token);
      if (!v.ok) return v;
      return open(v.sub, v.permissions, 'jwt', Number.isFinite(v.exp) ? Math.max(v.exp, now() + 60_000) : now() + config.sessionTtlMs);
    },
    signInDemo(name) {
      if (!config.demoLogin) return { ok: false, status: 403, reason: 'the demo login is not enabled on this console' };
      if (!DEMO_NAME.test(name)) return { ok: false, status: 400, reason: 'name: 1 to 64 letters, digits, . _ @ -' };
      // the demo login grants both permissions, so `npm start` can show approvals end to end
      return open(name, [config.readRole, config.approveRole], 'demo', now() + config.sessionTtlMs);
    },
    async userOf(cookieHeader, authorization) {
      const c = cookieValue(cookieHeader, SESSION_COOKIE);
      if (c) {
        const u = sessions.get(c);
        if (u && u.expiresAt > now()) return u;
        if (u) sessions.delete(c);
      }
      const m = authorization ? /^Bearer ([A-Za-z0-9._~+/=-]{1,16384})$/.exec(authorization) : null;
      if (m && verifier) {
        const v = await verify(m[1]!);
        if (v.ok) return { sub: v.sub, permissions: v.permissions, method: 'jwt', sessionRef: `bearer-${digest(m[1]!)}`, csrf: null, expiresAt: v.exp };
      }
      return undefined;
    },
    signOut(cookieHeader) {
      const c = cookieValue(cookieHeader, SESSION_COOKIE);
      if (!c) return undefined;
      const u = sessions.get(c);
      sessions.delete(c);
      return u;
    },
  };
}
