import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type CryptoKey } from 'jose';
import type { Logger } from '@jwt-audit/runtime';
import { DEMO_ERRORS } from './errors.js';

/**
 * A small OAuth 2.0 authorization server for the demo and the end-to-end tests:
 *   POST /oauth/token    grant_type=password | client_credentials | refresh_token (RFC 6749),
 *                        refresh tokens rotate; presenting a rotated one revokes its whole family
 *   POST /oauth/revoke   RFC 7009 token revocation
 *   GET  /.well-known/jwks.json, /.well-known/openid-configuration
 *   POST /admin/rotate-key   adds a new signing key (the old one stays published for a while)
 * Access tokens are RS256 JWTs; refresh tokens are opaque random strings.
 * Demo only: users and clients are fixed, secrets are well known.
 */

export interface DemoUser {
  password: string;
  roles: string[];
  scopes: string[];
}

export const DEMO_USERS: Record<string, DemoUser> = {
  alice: { password: 'alice-pw', roles: ['customer'], scopes: ['orders:read', 'orders:write'] },
  bob: { password: 'bob-pw', roles: ['customer'], scopes: ['orders:read'] },
  carol: { password: 'carol-pw', roles: ['admin'], scopes: ['orders:read', 'orders:write', 'admin'] },
};

export const DEMO_CLIENTS: Record<string, { secret: string; scopes: string[] }> = {
  'demo-web': { secret: 'demo-web-secret', scopes: [] },
  'reporting-job': { secret: 'reporting-secret', scopes: ['orders:read'] },
};

interface RefreshRecord {
  sub: string;
  clientId: string;
  familyId: string;
  sid: string;
  scopes: string[];
  roles: string[];
  rotated: boolean;
  revoked: boolean;
}

export interface AuthServerOptions {
  port?: number;
  host?: string;
  /** Issuer URL as clients see it; default http://<host>:<port>/ */
  issuer?: string;
  audience?: string;
  accessTokenTtlSec?: number;
  /**
   * Where the signing keys live (private JWKs, 0600). Set, they survive a restart, so tokens
   * issued before it still verify; unset, each start makes a new key (tests).
   */
  keyFile?: string;
  logger: Logger;
}

export interface AuthServer {
  url: string;
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Signs any access token (tests use it for expired / wrong-audience tokens). */
  sign(claims: Record<string, unknown>, opts?: { expiresInSec?: number; kid?: string }): Promise<string>;
  rotateKey(): Promise<string>;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

interface StoredKey extends SigningKey {
  privateJwk: JWK;
}

async function newKey(): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `demo-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwk, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256' } };
}

async function loadKeys(file: string): Promise<StoredKey[] | undefined> {
  let stored: JWK[];
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as JWK[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw DEMO_ERRORS.AUDIT_ERR_DEMO_KEY.wrap(err, file, (err as Error).message);
  }
  return Promise.all(
    stored.map(async (privateJwk) => {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = privateJwk;
      return { kid: privateJwk.kid!, privateKey: (await importJWK(privateJwk, 'RS256')) as CryptoKey, jwk: { ...pub, use: 'sig' }, privateJwk };
    }),
  );
}

function saveKeys(file: string, keys: StoredKey[]): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(keys.map((k) => k.privateJwk)), { mode: 0o600 });
  renameSync(tmp, file);
}

function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(DEMO_ERRORS.AUDIT_ERR_DEMO_BODY_TOO_LARGE.create());
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseForm(req: http.IncomingMessage, body: string): URLSearchParams {
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    try {
      return new URLSearchParams(JSON.parse(body) as Record<string, string>);
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(body);
}

function clientFrom(req: http.IncomingMessage, form: URLSearchParams): { id: string; secret: string } | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
    if (id && secret !== undefined) return { id: decodeURIComponent(id), secret: decodeURIComponent(secret) };
  }
  const id = form.get('client_id');
  return id ? { id, secret: form.get('client_secret') ?? '' } : undefined;
}

export async function startAuthServer(opts: AuthServerOptions): Promise<AuthServer> {
  const log = opts.logger.child({ component: 'demo-auth' });
  const ttl = opts.accessTokenTtlSec ?? 900;
  const keys: StoredKey[] = (opts.keyFile ? await loadKeys(opts.keyFile) : undefined) ?? [await newKey()];
  if (opts.keyFile) saveKeys(opts.keyFile, keys);
  const refresh = new Map<string, RefreshRecord>();
  let issuer = opts.issuer ?? '';
  const audience = opts.audience ?? 'demo-api';

  const sign = async (claims: Record<string, unknown>, o: { expiresInSec?: number; kid?: string } = {}) => {
    const key = keys.find((k) => k.kid === o.kid) ?? keys[keys.length - 1]!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + (o.expiresInSec ?? ttl))
      .setJti(randomUUID())
      .sign(key.privateKey);
  };

  const issue = async (
    res: http.ServerResponse,
    sub: string,
    clientId: string,
    scopes: string[],
    roles: string[],
    family?: { familyId: string; sid: string },
    ttlSec = ttl,
  ) => {
    const sid = family?.sid ?? `sid-${randomBytes(6).toString('hex')}`;
    const accessToken = await sign({ sub, client_id: clientId, scope: scopes.join(' '), roles, sid }, { expiresInSec: ttlSec });
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSec, scope: scopes.join(' ') };
    if (sub !== clientId) {
      const rt = randomBytes(32).toString('base64url');
      refresh.set(rt, {
        sub,
        clientId,
        familyId: family?.familyId ?? `fam-${randomBytes(6).toString('hex')}`,
        sid,
        scopes,
        roles,
        rotated: false,
        revoked: false,
      });
      body.refresh_token = rt;
    }
    json(res, 200, body, { 'cache-control': 'no-store', pragma: 'no-cache' });
  };

  const tokenEndpoint = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const form = parseForm(req, await readBody(req));
    const client = clientFrom(req, form);
    const known = client ? DEMO_CLIENTS[client.id] : undefined;
    if (!client || !known || known.secret !== client.secret) return oauthError(res, 401, 'invalid_client', 'unknown client or bad secret');
    switch (form.get('grant_type')) {
      case 'password': {
        const user = DEMO_USERS[form.get('username') ?? ''];
        if (!user || user.password !== form.get('password')) return oauthError(res, 400, 'invalid_grant', 'bad credentials');
        const requested = form.get('scope')?.split(' ').filter(Boolean);
        const scopes = requested ? requested.filter((s) => user.scopes.includes(s)) : user.scopes;
        // demo only: a short lifetime on request, so the traffic generator can replay expired tokens
        const demoTtl = Number(form.get('demo_ttl'));
        return issue(
          res,
          form.get('username')!,
          client.id,
          scopes,
          user.roles,
          undefined,
          Number.isInteger(demoTtl) && demoTtl >= 1 && demoTtl < ttl ? demoTtl : ttl,
        );
      }
      case 'client_credentials':
        return issue(res, client.id, client.id, known.scopes, []);
      case 'refresh_token': {
        const presented = form.get('refresh_token') ?? '';
        const rec = refresh.get(presented);
        if (!rec || rec.clientId !== client.id || rec.revoked) return oauthError(res, 400, 'invalid_grant', 'unknown or revoked refresh token');
        if (rec.rotated) {
          // RFC 9700 4.14.2: reuse of a rotated refresh token revokes the whole family.
          for (const r of refresh.values()) if (r.familyId === rec.familyId) r.revoked = true;
          log.warn({ familyId: rec.familyId }, 'refresh token reuse: family revoked');
          return oauthError(res, 400, 'invalid_grant', 'refresh token already used');
        }
        rec.rotated = true;
        return issue(res, rec.sub, rec.clientId, rec.scopes, rec.roles, { familyId: rec.familyId, sid: rec.sid });
      }
      default:
        return oauthError(res, 400, 'unsupported_grant_type', 'grant_type not supported');
    }
  };

  const revokeEndpoint = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const form = parseForm(req, await readBody(req));
    const client = clientFrom(req, form);
    const known = client ? DEMO_CLIENTS[client.id] : undefined;
    if (!client || !known || known.secret !== client.secret) return oauthError(res, 401, 'invalid_client', 'unknown client or bad secret');
    const rec = refresh.get(form.get('token') ?? '');
    if (rec) rec.revoked = true;
    // RFC 7009 2.2: 200 whether or not the token was known. Access tokens (JWTs) cannot be
    // recalled by the server; the interceptor enforces their revocation from audit.revocations.v1.
    res.writeHead(200).end();
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    const run = async () => {
      if (route === 'GET /.well-known/jwks.json') return json(res, 200, { keys: keys.map((k) => k.jwk) });
      if (route === 'GET /.well-known/openid-configuration') {
        return json(res, 200, {
          issuer,
          token_endpoint: `${issuer}oauth/token`,
          revocation_endpoint: `${issuer}oauth/revoke`,
          jwks_uri: `${issuer}.well-known/jwks.json`,
        });
      }
      if (route === 'POST /oauth/token') return tokenEndpoint(req, res);
      if (route === 'POST /oauth/revoke') return revokeEndpoint(req, res);
      if (route === 'POST /admin/rotate-key') return json(res, 200, { kid: await rotateKey() });
      return json(res, 404, { error: 'not_found' });
    };
    run().catch((err: unknown) => {
      log.warn({ err: (err as Error).message, route }, 'request failed');
      if (!res.headersSent) oauthError(res, 400, 'invalid_request', 'malformed request');
    });
  });

  const rotateKey = async () => {
    keys.push(await newKey());
    if (keys.length > 2) keys.shift();
    if (opts.keyFile) saveKeys(opts.keyFile, keys);
    log.info({ kid: keys[keys.length - 1]!.kid }, 'signing key rotated');
    return keys[keys.length - 1]!.kid;
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  if (!issuer) issuer = `${url}/`;
  log.info({ url, issuer }, 'demo authorization server listening');
  return {
    url,
    issuer,
    audience,
    jwksUrl: `${url}/.well-known/jwks.json`,
    sign,
    rotateKey,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function oauthError(res: http.ServerResponse, status: number, error: string, description: string): void {
  json(res, status, { error, error_description: description }, status === 401 ? { 'www-authenticate': 'Basic realm="demo"' } : {});
}
