import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { createKafkaClient, ensureTopics, type Kafka } from '@jwt-audit/kafka';
import { eventCodec, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { createLogger } from '@jwt-audit/runtime';
import { until } from '@jwt-audit/runtime/testing/wait';
import { defaults, type InterceptorConfig } from '../config.js';
import { createInterceptor } from '../service.js';

export const quietLogger = () => createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

export async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}
async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/**
 * A small authorization server for the tests: JWKS, password / refresh_token grants with refresh
 * rotation, RFC 7009 revocation, key rotation.
 */
export async function startTestAuthServer(opts: { issuer?: string; audience?: string } = {}) {
  const keys: Key[] = [await newKey('k1')];
  const refresh = new Map<string, { sub: string; used: boolean }>();
  let jwksFetches = 0;
  const audience = opts.audience ?? 'test-api';
  let issuer = opts.issuer ?? '';
  const sign = async (
    claims: Record<string, unknown> = {},
    o: { kid?: string; expiresInSec?: number; aud?: string; iss?: string; nbfOffsetSec?: number } = {},
  ) => {
    const key = keys.find((k) => k.kid === o.kid) ?? keys[keys.length - 1]!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'alice', scope: 'orders:read', roles: ['customer'], ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? key.kid, typ: 'at+jwt' })
      .setIssuer(o.iss ?? issuer)
      .setAudience(o.aud ?? audience)
      .setIssuedAt(now)
      .setNotBefore(now + (o.nbfOffsetSec ?? 0))
      .setExpirationTime(now + (o.expiresInSec ?? 300))
      .setJti((claims.jti as string) ?? randomUUID())
      .sign(key.privateKey);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      if (req.url === '/jwks.json') {
        jwksFetches++;
        return json(200, { keys: keys.map((k) => k.jwk) });
      }
      if (req.url === '/oauth/token') {
        let sub: string | undefined;
        if (form.get('grant_type') === 'password') sub = form.get('username') ?? undefined;
        if (form.get('grant_type') === 'refresh_token') {
          const rec = refresh.get(form.get('refresh_token') ?? '');
          if (!rec || rec.used) return json(400, { error: 'invalid_grant' });
          rec.used = true;
          sub = rec.sub;
        }
        if (!sub) return json(400, { error: 'unsupported_grant_type' });
        const rt = randomBytes(24).toString('base64url');
        refresh.set(rt, { sub, used: false });
        return json(200, { access_token: await sign({ sub, client_id: 'web', sid: 'sid-1' }), token_type: 'Bearer', expires_in: 300, refresh_token: rt });
      }
      if (req.url === '/oauth/revoke') return res.writeHead(200).end();
      json(404, { error: 'not found' });
    });
  });
  const url = await listen(server);
  if (!issuer) issuer = `${url}/`;
  return {
    url,
    issuer,
    audience,
    jwksUrl: `${url}/jwks.json`,
    sign,
    get jwksFetches() {
      return jwksFetches;
    },
    async rotate(): Promise<string> {
      const k = await newKey(`k${keys.length + 1}-${randomBytes(2).toString('hex')}`);
      keys.push(k);
      return k.kid;
    },
    close: () => closeServer(server),
  };
}

/** An upstream that echoes what it received (headers, body size). */
export async function startEchoUpstream() {
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; bodyBytes: number }> = [];
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
      const body = JSON.stringify({ ok: true, path: req.url, bodyBytes, subject: req.headers['x-auth-subject'] ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'session=secret-cookie-value' }).end(body);
    });
  });
  const url = await listen(server);
  return { url, seen, close: () => closeServer(server) };
}

/** The fingerprint key ring of test interceptors (secret header values: hmac:test:<hex>). */
export const TEST_FINGERPRINT_KEYS = 'test:test-fingerprint-secret-0123456789';

export function testConfig(
  over: Partial<InterceptorConfig> & { brokers: string[]; spoolDir: string; jwksUrl: string; issuer: string; audience: string },
): InterceptorConfig {
  const { brokers, spoolDir, jwksUrl, issuer, audience, ...rest } = over;
  return {
    ...structuredClone(defaults),
    listen: { host: '127.0.0.1', port: 0 },
    jwt: { ...defaults.jwt, jwksUrl, issuer, audience, algorithms: ['RS256'], jwksCooldownMs: 0, clockToleranceSec: 5 },
    kafka: { brokers, clientId: 'interceptor-test' },
    spool: { dir: spoolDir, maxBytes: 64 * 1024 * 1024, fsync: 'always' },
    source: { service: 'interceptor', instance: `test-${randomBytes(3).toString('hex')}`, environment: 'test' },
    revocations: { enabled: true, startupTimeoutMs: 10_000 },
    fingerprint: { keys: TEST_FINGERPRINT_KEYS },
    ops: {},
    ...rest,
  };
}

/** Collects decoded audit events from a topic from the beginning. */
export async function collectEvents(kafka: Kafka, topic: string) {
  const events: AuditEvent[] = [];
  const raw: Buffer[] = [];
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      raw.push(message.value);
      events.push(eventCodec.decode(message.value, message.headers as Record<string, Buffer>));
    },
  });
  return { events, raw, stop: () => consumer.disconnect() };
}

/** The interceptor tests' wait: the project's one `until`, checking every 25 ms. */
export function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, stepMs = 25): Promise<T> {
  return until(what, fn, { timeoutMs, intervalMs: stepMs });
}

export interface StackOptions {
  /** prefix of the temporary directory */
  name: string;
  routes: InterceptorConfig['routes'];
  /** anything else of the interceptor's config (testConfig's defaults otherwise); revocations default off */
  config?: Partial<InterceptorConfig>;
  /** the interceptor's ops listener (/metrics, /healthz) on a free port */
  ops?: boolean;
}

/**
 * One interceptor in front of the echo upstream, with the test authorization server, on the
 * embedded broker (port 0, topics created), and a reader of audit.raw.v1 from the beginning.
 * stop() stops them in order and removes the directory.
 */
export async function startStack(o: StackOptions) {
  return startStackWith(o, await startEchoUpstream());
}

/** startStack with the test's own upstream (named 'api') instead of the echo upstream; stop() closes it too. */
export async function startStackWith<U extends { url: string; close(): Promise<void> }>(o: StackOptions, upstream: U) {
  const logger = quietLogger();
  const dir = await mkdtemp(path.join(tmpdir(), `${o.name}-`));
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka);
  const auth = await startTestAuthServer();
  const interceptor = createInterceptor(
    testConfig({
      brokers: [broker.address],
      spoolDir: path.join(dir, 'spool'),
      jwksUrl: auth.jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
      upstreams: { api: upstream.url },
      routes: o.routes,
      revocations: { enabled: false, startupTimeoutMs: 1_000 },
      ...o.config,
    }),
    { logger, ...(o.ops ? { ops: true } : {}) },
  );
  const { url, opsUrl } = await interceptor.start();
  const reader = await collectEvents(kafka, TOPICS.raw);
  const stop = async () => {
    await reader.stop().catch(() => undefined);
    await interceptor.stop().catch(() => undefined);
    await upstream.close().catch(() => undefined);
    await auth.close().catch(() => undefined);
    await broker.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  return { dir, broker, kafka, auth, upstream, interceptor, url, opsUrl, reader, logger, stop };
}

/** The repository's seeded generator, for this harness's users. */
export { prng } from '@jwt-audit/runtime/testing/prng';
