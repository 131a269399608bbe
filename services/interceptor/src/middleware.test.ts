import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createInterceptor, expressMiddleware, fastifyPlugin, interceptHandler, type Interceptor } from './index.js';
import { closeServer, collectEvents, listen, quietLogger, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

/**
 * The three middleware shapes inside real servers (node:http, Express 5, Fastify 5), one
 * interceptor core, the embedded broker: the same decisions, the same events, and the bodies the
 * application reads and writes captured without the application noticing.
 */
const logger = quietLogger();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** What every app does: GET /api/orders answers the subject; POST /api/admin/users echoes the JSON it read. */
function nodeApp(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = req.method === 'POST' ? { created: JSON.parse(Buffer.concat(chunks).toString()) as unknown } : { sub: req.auth?.actor.sub ?? null };
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'session=mw-cookie-secret' }).end(JSON.stringify(body));
  });
}

describe('middleware: node:http, Express and Fastify', () => {
  let dir: string;
  let broker: Broker;
  let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
  let core: Interceptor;
  let reader: Awaited<ReturnType<typeof collectEvents>>;
  const servers: http.Server[] = [];
  const apps: Record<string, string> = {};
  let appCalls = 0;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'interceptor-mw-'));
    broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
    const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
    await ensureTopics(kafka);
    auth = await startTestAuthServer();
    const base = testConfig({
      brokers: [broker.address],
      spoolDir: path.join(dir, 'spool'),
      jwksUrl: auth.jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
    });
    core = createInterceptor(
      {
        ...base,
        routes: [
          { name: 'orders', path: '/api/orders', scopes: ['orders:read'] },
          { name: 'admin', path: '/api/admin/*', scopes: ['admin'], capture: { bodies: 'both' } },
        ],
      },
      { logger, serve: false },
    );
    await core.start();
    reader = await collectEvents(kafka, TOPICS.raw);

    const counted = (req: IncomingMessage, res: ServerResponse) => {
      appCalls++;
      nodeApp(req, res);
    };
    const plain = http.createServer(interceptHandler(core, counted));
    apps['node:http'] = await listen(plain);
    servers.push(plain);

    const ex = express();
    ex.use(expressMiddleware(core));
    ex.get('/api/orders', (req, res) => {
      appCalls++;
      res.json({ sub: req.auth?.actor.sub ?? null });
    });
    ex.post('/api/admin/users', express.json(), (req, res) => {
      appCalls++;
      res.json({ created: req.body as unknown });
    });
    const exServer = http.createServer(ex);
    apps.express = await listen(exServer);
    servers.push(exServer);

    const fa = Fastify();
    await fa.register(fastifyPlugin(core));
    fa.get('/api/orders', async (request) => {
      appCalls++;
      return { sub: request.raw.auth?.actor.sub ?? null };
    });
    fa.post('/api/admin/users', async (request) => {
      appCalls++;
      return { created: request.body };
    });
    apps.fastify = await fa.listen({ port: 0, host: '127.0.0.1' });
    servers.push(fa.server);
  });

  after(async () => {
    for (const s of servers) await closeServer(s);
    await reader?.stop();
    await core?.stop();
    await auth?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const shape of ['node:http', 'express', 'fastify']) {
    it(`${shape}: a valid token reaches the application with req.auth, and one token.validated with the response is published without the token`, async () => {
      const token = await auth.sign({ sub: `alice-${shape}` });
      const res = await fetch(`${apps[shape]}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { sub: `alice-${shape}` });
      const fp = sha(token);
      const exchange = await waitFor('token.validated', () => reader.events.find((e) => e.token?.fingerprint === fp));
      assert.equal(exchange.kind, 'token.validated');
      assert.equal(exchange.actor.sub, `alice-${shape}`);
      assert.equal(exchange.http?.request.route, '/api/orders');
      assert.equal(exchange.http?.response?.status, 200);
      assert.equal(exchange.http?.request.headers.authorization, `sha256:${fp}`);
      assert.ok(!reader.raw.some((r) => r.includes(token)), 'no record holds the raw token');
      if (shape === 'node:http') {
        // given to writeHead() only, never to setHeader(): still captured, as a fingerprint
        assert.match(exchange.http?.response?.headers['set-cookie'] ?? '', /^hmac:test:[0-9a-f]{32}$/, 'a cookie keyed, never a plain SHA-256');
        assert.ok(!reader.raw.some((r) => r.includes('mw-cookie-secret')), 'no record holds the cookie value');
      }
    });

    it(`${shape}: a missing token and a missing scope are refused before the application, with RFC 6750 challenges, and audited`, async () => {
      const calls = appCalls;
      const missing = await fetch(`${apps[shape]}/api/orders`);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="api"');
      assert.equal(missing.headers.get('content-type'), 'application/problem+json');

      const token = await auth.sign({ sub: `bob-${shape}`, scope: 'profile' });
      const forbidden = await fetch(`${apps[shape]}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(forbidden.status, 403);
      assert.match(forbidden.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="orders:read"/);
      assert.equal(appCalls, calls, 'the application never saw either request');

      const fp = sha(token);
      const rejected = await waitFor('token.rejected', () => reader.events.find((e) => e.kind === 'token.rejected' && e.token?.fingerprint === fp));
      assert.equal(rejected.rejection?.reason, 'insufficient_scope');
      const exchange = await waitFor('the refused exchange', () => reader.events.find((e) => e.kind === 'http.exchange' && e.token?.fingerprint === fp));
      assert.equal(exchange.http?.response?.status, 403);
    });

    it(`${shape}: bodies the application reads and writes are captured under a role rule's policy`, async () => {
      const token = await auth.sign({ sub: `root-${shape}`, scope: 'admin' });
      const sent = { user: `carol-${shape}`, role: 'auditor' };
      const res = await fetch(`${apps[shape]}/api/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(sent),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { created: sent }, 'capturing does not change what the application reads or writes');
      const fp = sha(token);
      const exchange = await waitFor('the admin exchange', () => reader.events.find((e) => e.kind === 'token.validated' && e.token?.fingerprint === fp));
      assert.deepEqual(JSON.parse(exchange.http?.request.body?.content ?? 'null'), sent);
      assert.deepEqual(JSON.parse(exchange.http?.response?.body?.content ?? 'null'), { created: sent });
      assert.equal(exchange.http?.request.body?.truncated, false);
    });
  }
});
