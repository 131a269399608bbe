import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { canonicalUrl, createInterceptor, expressMiddleware, fastifyPlugin, type Interceptor } from './index.js';
import { closeServer, collectEvents, listen, quietLogger, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

/**
 * Inside the application the interceptor cannot forward anything, so the application must route
 * on the path the interceptor judged: Express and node:http get the canonical path in req.url;
 * Fastify routes before any hook and takes it through its rewriteUrl option (canonicalUrl).
 */
const logger = quietLogger();

describe('middleware: the application routes on the judged path', () => {
  let dir: string;
  let broker: Broker;
  let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
  let core: Interceptor;
  let reader: Awaited<ReturnType<typeof collectEvents>>;
  const servers: http.Server[] = [];
  const apps: Record<string, string> = {};
  const seen: Array<{ app: string; handler: string; url: string; rid: string }> = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'interceptor-mwr-'));
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
        revocations: { enabled: false, startupTimeoutMs: 0 },
        routes: [
          { name: 'admin', path: '/api/admin/*', scopes: ['admin'] },
          { name: 'api', path: '/api/*' },
        ],
      },
      { logger, serve: false, kafka },
    );
    await core.start();
    reader = await collectEvents(kafka, TOPICS.raw);

    const ex = express();
    ex.use(expressMiddleware(core));
    const record = (app: string, handler: string, url: string, rid: unknown) => seen.push({ app, handler, url, rid: String(rid) });
    ex.all('/api/admin/*splat', (req, res) => {
      record('express', 'admin', req.url, req.headers['x-request-id']);
      res.json({ ok: true });
    });
    ex.all('/api/*splat', (req, res) => {
      record('express', 'api', req.url, req.headers['x-request-id']);
      res.json({ ok: true });
    });
    const exServer = http.createServer(ex);
    apps.express = await listen(exServer);
    servers.push(exServer);

    // case folded as Express does, so every spelling has somewhere to go
    const fa = Fastify({ rewriteUrl: canonicalUrl(core), routerOptions: { caseSensitive: false } });
    await fa.register(fastifyPlugin(core));
    fa.all('/api/admin/*', async (request) => {
      record('fastify', 'admin', request.raw.url ?? '', request.headers['x-request-id']);
      return { ok: true };
    });
    fa.all('/api/*', async (request) => {
      record('fastify', 'api', request.raw.url ?? '', request.headers['x-request-id']);
      return { ok: true };
    });
    await fa.ready();
    const faServer = fa.server;
    apps.fastify = await listen(faServer);
    servers.push(faServer);
  });

  after(async () => {
    for (const s of servers) await closeServer(s);
    await reader?.stop();
    await core?.stop();
    await auth?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const send = (base: string, target: string, token: string, rid: string) =>
    new Promise<number>((resolve, reject) => {
      const u = new URL(base);
      const req = http.request({ host: u.hostname, port: u.port, path: target, headers: { authorization: `Bearer ${token}`, 'x-request-id': rid } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  for (const app of ['express', 'fastify']) {
    it(`${app}: spellings of the protected path are judged on it and reach the application in canonical form`, async () => {
      const plain = await auth.sign({ scope: 'profile' });
      const admin = await auth.sign({ scope: 'admin' });
      const spellings = [
        '/api/%61dmin/users',
        '/API/Admin/users',
        '/api/x/../admin/users',
        '/api/x/%2e%2e/admin/users',
        '//api//admin/users',
        '/api/admin/users/',
      ];
      for (const [i, s] of spellings.entries()) {
        assert.equal(await send(apps[app]!, s, plain, `${app}-p${i}`), 403, `${s} without the scope`);
        assert.equal(await send(apps[app]!, `${s}?q=1`, admin, `${app}-a${i}`), 200, `${s} with the scope`);
        const hit = seen.find((x) => x.rid === `${app}-a${i}`);
        assert.equal(hit?.handler, 'admin', s);
        assert.match(hit?.url ?? '', /^\/(api|API)\/(admin|Admin)\/users\/?\?q=1$/, `${s} reached the application as ${hit?.url}`);
      }
      assert.equal(seen.filter((x) => x.app === app && x.rid.includes('-p')).length, 0, 'nothing without the scope reached the application');
      assert.equal(await send(apps[app]!, '/api%2Fadmin/users', admin, `${app}-bad`), 400);
      assert.equal(await send(apps[app]!, '/elsewhere', admin, `${app}-none`), 404, 'enforce mode: no route, no entry');
      const refused = await waitFor('the refusals audited', () => {
        const bad = reader.events.find((e) => e.http?.request.id === `${app}-bad`);
        const none = reader.events.find((e) => e.http?.request.id === `${app}-none`);
        return bad && none ? { bad, none } : undefined;
      });
      assert.equal(refused.bad.attributes['http.refusal'], 'encoded_slash');
      assert.equal(refused.none.attributes['http.refusal'], 'no_route');
      const judged = await waitFor('the admin requests audited', () => reader.events.find((e) => e.http?.request.id === `${app}-a0`));
      assert.equal(judged.http?.request.route, '/api/admin/*');
      assert.equal(judged.http?.request.path, '/api/admin/users');
      assert.equal(judged.attributes['url.original'], '/api/%61dmin/users');
    });
  }
});
