import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Pool } from 'undici';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS, type AuditEvent } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import type { RouteConfig } from './config.js';
import { createInterceptor, type Interceptor } from './index.js';
import { closeServer, collectEvents, listen, prng, quietLogger, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

/**
 * Differential routing test: the interceptor in front of three real upstreams that each route
 * the same bytes their own way (Express 5 with its defaults: case-insensitive, trailing slash
 * ignored, no decoding before matching; Fastify 5 with its most lenient router: decoding, case
 * folding, trailing and duplicate slashes ignored; a node:http server routing on
 * `decodeURIComponent(new URL(req.url).pathname)`: dot segments, encoded dots and backslashes
 * resolved). Each serves two protected handlers behind a catch-all. Several hundred generated
 * method/path variants go through, with a token that lacks the protected scopes and with one
 * that has them. Every request that reaches a protected handler must have been judged on that
 * handler's route (the audit event on the embedded broker says which), and the path the upstream
 * received must be the path that was judged.
 */
const logger = quietLogger();

type Handler = 'admin' | 'order' | 'api';
interface Seen {
  upstream: string;
  rid: string;
  handler: Handler;
  method: string;
  url: string;
}
/** The route each upstream handler stands for, and the scope its handler needs. */
const ROUTE_OF: Record<Handler, string> = { admin: '/api/admin/*', order: '/api/orders/:id', api: '/api/*' };
const ROUTES: RouteConfig[] = [
  { name: 'admin', path: '/api/admin/*', upstream: 'app', scopes: ['admin'] },
  { name: 'order', path: '/api/orders/:id', upstream: 'app', scopes: { GET: ['orders:read'] } },
  { name: 'api', path: '/api/*', upstream: 'app' },
];

const hex = (c: string, upper: boolean) => {
  const h = c.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${upper ? h.toUpperCase() : h}`;
};

/** Path variants of one protected path: each family of spelling the upstreams read differently. */
function pathVariants(base: string, rand: () => number): string[] {
  const segs = base.split('/').slice(1);
  const join = (s: string[]) => `/${s.join('/')}`;
  const out = new Set<string>([base]);
  // case: each segment upper-cased, capitalised, mixed; the whole path
  out.add(base.toUpperCase());
  segs.forEach((s, i) => {
    for (const v of [s.toUpperCase(), s[0]!.toUpperCase() + s.slice(1), [...s].map((c, j) => (j % 2 ? c.toUpperCase() : c)).join('')])
      out.add(join(segs.map((x, k) => (k === i ? v : x))));
  });
  // every letter percent-encoded, alternately in lower- and upper-case hex; a whole segment encoded
  let n = 0;
  segs.forEach((s, i) => {
    [...s].forEach((c, j) => {
      if (!/[A-Za-z]/.test(c)) return;
      out.add(join(segs.map((x, k) => (k === i ? x.slice(0, j) + hex(c, n++ % 2 === 0) + x.slice(j + 1) : x))));
    });
    out.add(join(segs.map((x, k) => (k === i ? [...x].map((c) => hex(c, true)).join('') : x))));
  });
  // separators and dots, raw and encoded
  for (let i = 1; i < segs.length; i++) {
    const head = join(segs.slice(0, i));
    const tail = segs.slice(i).join('/');
    for (const sep of [
      '%2F',
      '%2f',
      '\\',
      '%5C',
      '%5c',
      '//',
      '///',
      '/./',
      '/%2e/',
      '/%2E/',
      '/x/../',
      '/x/%2e%2e/',
      '/x/%2E%2E/',
      '/x/.%2e/',
      '/x/%2e./',
      '/x/..%2F',
      '/x/..%5C',
      '/x\\..\\',
      '/x/..\\',
      '/;/',
      ';x/',
      '/%00/',
      '%00/',
      '/%3B/',
      '/%2e%2e%2f',
    ])
      out.add(`${head}${sep}${tail}`);
  }
  for (const pre of ['/', '//', '/./', '/../', '/%2e%2e/', '/x/../', '/\\', '/.;/']) out.add(`${pre}${base.slice(1)}`);
  // trailing characters
  for (const t of [
    '/',
    '//',
    '/.',
    '/..',
    '/x/..',
    '/%2e',
    '.',
    '..',
    '%2e',
    '%20',
    '+',
    '~',
    '*',
    '%2A',
    '%00',
    '%0a',
    '%09',
    ';',
    ';x=1',
    '%3B',
    '%3bx=1',
    '%23',
    '#',
    '#x',
    '?',
    '?x=1',
    '?x=/../../etc',
    '%3F',
    '%',
    '%2',
    '%zz',
    '%C0%AF',
    '%c0%ae%c0%ae/',
    '%E9',
    '%C3%A9',
  ])
    out.add(`${base}${t}`);
  // ";" path parameters in every segment
  segs.forEach((_, i) => out.add(join(segs.map((x, k) => (k === i ? `${x};jsessionid=1` : x)))));
  // absolute-form targets naming the protected path
  out.add(`http://evil.example${base}`);
  // combinations of two or three of the above
  const pool = [...out];
  for (let k = 0; k < 40; k++) {
    let v = pool[Math.floor(rand() * pool.length)]!;
    const ops = 1 + Math.floor(rand() * 2);
    for (let j = 0; j < ops; j++) {
      const r = rand();
      if (r < 0.25) v = v.replace(/[a-z]/, (c) => c.toUpperCase());
      else if (r < 0.5) v = v.replace(/[a-z](?=[a-z]*$|[a-z]*\/)/, (c) => hex(c, rand() < 0.5));
      else if (r < 0.75) v = v.replace('/', '//');
      else v = v.replace(/\/(?=[^/]*$)/, '/x/../');
    }
    out.add(v);
  }
  return [...out];
}

const METHODS = ['HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'];

async function startExpress(seen: Seen[]): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  const rec = (handler: Handler) => (req: express.Request, res: express.Response) => {
    seen.push({ upstream: 'express', rid: String(req.headers['x-request-id']), handler, method: req.method, url: req.originalUrl });
    res.json({ handler });
  };
  app.all('/api/admin', rec('admin'));
  app.all('/api/admin/*splat', rec('admin'));
  app.all('/api/orders/:id', rec('order'));
  app.all('/api/*splat', rec('api'));
  const server = http.createServer(app);
  const url = await listen(server);
  return { url, close: () => closeServer(server) };
}

async function startFastify(seen: Seen[]): Promise<{ url: string; close(): Promise<void> }> {
  const app: FastifyInstance = Fastify({ routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true } });
  const rec = (handler: Handler) => async (request: { raw: http.IncomingMessage; method: string }) => {
    seen.push({ upstream: 'fastify', rid: String(request.raw.headers['x-request-id']), handler, method: request.method, url: request.raw.url ?? '' });
    return { handler };
  };
  app.all('/api/admin', rec('admin'));
  app.all('/api/admin/*', rec('admin'));
  app.all('/api/orders/:id', rec('order'));
  app.all('/api/*', rec('api'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, close: () => app.close() };
}

async function startUrlRouter(seen: Seen[]): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let p: string;
    try {
      p = decodeURIComponent(new URL(req.url ?? '/', 'http://upstream.internal').pathname);
    } catch {
      return res.writeHead(400).end();
    }
    const handler: Handler | null =
      p === '/api/admin' || p.startsWith('/api/admin/') ? 'admin' : /^\/api\/orders\/[^/]+\/?$/.test(p) ? 'order' : p.startsWith('/api/') ? 'api' : null;
    if (!handler) return res.writeHead(404).end();
    seen.push({ upstream: 'url', rid: String(req.headers['x-request-id']), handler, method: req.method ?? '', url: req.url ?? '' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ handler }));
  });
  const url = await listen(server);
  return { url, close: () => closeServer(server) };
}

describe('routing differential: the interceptor in front of Express 5, Fastify 5 and a new URL() router', () => {
  let dir: string;
  let broker: Broker;
  let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
  let reader: Awaited<ReturnType<typeof collectEvents>>;
  const seen: Seen[] = [];
  const edges: Array<{ name: string; interceptor: Interceptor; pool: Pool }> = [];
  const upstreams: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'interceptor-diff-'));
    broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
    const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
    await ensureTopics(kafka);
    // the interceptors publish through this client on the test's thread: no producer thread to start per interceptor
    const edgeKafka = createKafkaClient({ brokers: [broker.address], clientId: 'edge' }, logger);
    auth = await startTestAuthServer();
    for (const [name, start] of [
      ['express', startExpress],
      ['fastify', startFastify],
      ['url', startUrlRouter],
    ] as const) {
      const up = await start(seen);
      upstreams.push(up);
      const config = testConfig({
        brokers: [broker.address],
        spoolDir: path.join(dir, `spool-${name}`),
        jwksUrl: auth.jwksUrl,
        issuer: auth.issuer,
        audience: auth.audience,
        upstreams: { app: up.url },
        routes: ROUTES,
        revocations: { enabled: false, startupTimeoutMs: 0 },
      });
      config.source.instance = `diff-${name}`;
      const interceptor = createInterceptor(config, { logger, kafka: edgeKafka });
      const { url } = await interceptor.start();
      edges.push({ name, interceptor, pool: new Pool(url, { connections: 8 }) });
    }
    reader = await collectEvents(kafka, TOPICS.raw);
  });

  after(async () => {
    for (const e of edges) {
      await e.pool.close();
      await e.interceptor.stop();
    }
    for (const u of upstreams) await u.close();
    await reader?.stop();
    await auth?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("every variant that reaches a protected handler was judged on that handler's route, and the upstream got the judged path", async () => {
    const rand = prng(2);
    const targets = ['/api/admin/users', '/api/admin', '/api/orders/1041'].flatMap((b) => pathVariants(b, rand));
    // every spelling twice: GET with the protected scopes (does it reach the handler, and on
    // which route was it judged?) and another method without them (does anything get through?)
    const requests = targets.flatMap((t, i) => [
      { method: 'GET', target: t, token: 'privileged' as const },
      { method: METHODS[i % METHODS.length]!, target: t, token: 'plain' as const },
    ]);
    assert.ok(targets.length >= 300, `${targets.length} spellings`);
    const tokens = { plain: await auth.sign({ scope: 'profile' }), privileged: await auth.sign({ scope: 'admin orders:read' }) };

    const sent = new Map<string, { edge: string; token: keyof typeof tokens; method: string; target: string; status: number; problem: boolean }>();
    let next = 0;
    const jobs = edges.flatMap((e) => requests.map((r) => ({ edge: e, ...r })));
    const worker = async () => {
      for (let j = next++; j < jobs.length; j = next++) {
        const job = jobs[j]!;
        const rid = `d${j}`;
        const res = await job.edge.pool.request({
          method: job.method as 'GET',
          path: job.target,
          headers: { authorization: `Bearer ${tokens[job.token]}`, 'x-request-id': rid },
        });
        await res.body.dump();
        const problem = String(res.headers['content-type']).startsWith('application/problem+json');
        sent.set(rid, { edge: job.edge.name, token: job.token, method: job.method, target: job.target, status: res.statusCode, problem });
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));

    // every request has its audit event: the route it was judged on, the path judged
    const judged = await waitFor(
      'an audit event for every request',
      () => {
        const byRid = new Map<string, AuditEvent>();
        for (const e of reader.events) if (e.http?.request.id?.startsWith('d')) byRid.set(e.http.request.id, e);
        return byRid.size >= sent.size ? byRid : undefined;
      },
      60_000,
    );

    const failures: string[] = [];
    const reached = { admin: 0, order: 0, api: 0 };
    for (const s of seen) {
      const req = sent.get(s.rid)!;
      const event = judged.get(s.rid)!;
      const what = `${req.edge} ${req.method} ${JSON.stringify(req.target)} (${req.token}) reached ${s.handler} as ${JSON.stringify(s.url)}`;
      reached[s.handler]++;
      if (s.handler !== 'api' && event.http?.request.route !== ROUTE_OF[s.handler])
        failures.push(`${what} but was judged on ${event.http?.request.route ?? 'no route'}`);
      if (s.handler !== 'api' && req.token === 'plain') failures.push(`${what} without its scope`);
      const q = s.url.indexOf('?');
      const upstreamPath = q >= 0 ? s.url.slice(0, q) : s.url;
      const upstreamQuery = q >= 0 ? s.url.slice(q + 1) : null;
      if (upstreamPath !== event.http?.request.path || upstreamQuery !== event.http?.request.query)
        failures.push(`${what} but the path judged was ${JSON.stringify(event.http?.request.path)} ? ${JSON.stringify(event.http?.request.query)}`);
      if (s.method !== req.method) failures.push(`${what} with method ${s.method}`);
    }
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);

    // the test is only worth something if the variants got through at all: with the right scopes
    // the protected handlers are reached through many spellings on every upstream
    for (const up of ['express', 'fastify', 'url']) {
      for (const h of ['admin', 'order'] as const) {
        const spellings = new Set(seen.filter((s) => s.upstream === up && s.handler === h).map((s) => sent.get(s.rid)!.target));
        assert.ok(spellings.size >= 30, `${up}: ${h} reached through ${spellings.size} spellings`);
      }
    }
    // and what was refused was refused for a reason that is in the event
    const statuses = new Map<number, number>();
    for (const [rid, r] of sent) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const e = judged.get(rid)!;
      if ([400, 404, 405, 501].includes(r.status) && r.problem)
        assert.ok(e.attributes['http.refusal'], `${r.method} ${r.target}: ${r.status} without http.refusal`);
    }
    for (const s of [200, 400, 403, 405, 501]) assert.ok((statuses.get(s) ?? 0) > 0, `some ${s}: ${JSON.stringify([...statuses])}`);
  });
});
