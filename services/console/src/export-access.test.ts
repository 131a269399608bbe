/**
 * An export the reader stops half-way is still in the audit log: on the embedded broker and
 * search node over real TCP/HTTP, a client that takes the first bytes of a large NDJSON export
 * and hangs up leaves an audit.access `export` event (status 499, the events written before it
 * left), as a whole export does. Before, the console waited for a 'drain' that never came and
 * recorded nothing, so a reader could take most of the log without a trace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { installTemplates } from '@jwt-audit/indexer';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { prng } from '@jwt-audit/runtime/testing/prng';
import { defaults, type ConsoleConfig } from './config.js';
import { event, indexAll, rawEventsWhen } from './fixtures.js';
import { createConsoleService, type ConsoleService } from './service.js';

const logger = createLogger({ name: 'export-access-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const T0 = Date.parse('2026-11-21T10:00:00Z');
// enough NDJSON (about 20 MB) that the console is still writing when the client hangs up
const EVENTS = 4_000;
let dir: string;
let broker: Broker;
let search: SearchNode;
let es: Client;
let svc: ConsoleService;
let base: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'console-export-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 'setup' }, logger), defaultTopics(3));
  search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  es = new Client({ node: search.url });
  await installTemplates(es, logger);
  const filler = 'x'.repeat(4_000);
  const events = Array.from({ length: EVENTS }, (_, i) =>
    event('http.exchange', T0 + i * 1_000, { sub: 'bulk', path: '/api/orders', route: 'orders', fp: `b${i}`, body: `{"note":"${filler}${i}"}` }),
  );
  await indexAll(es, 'test', events);
  const config: ConsoleConfig = {
    ...defaults,
    listen: { host: '127.0.0.1', port: 0 },
    elasticsearch: { url: search.url },
    kafka: { brokers: [broker.address], clientId: 'console' },
    auth: { ...defaults.auth, demoLogin: true },
    source: { service: 'console', instance: 'console-export-test', environment: 'test' },
  };
  svc = createConsoleService(config, { logger, ops: false });
  base = (await svc.start()).url;
});

after(async () => {
  await svc?.stop();
  await es?.close();
  await search?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function signIn(name: string): Promise<string> {
  const r = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name }).toString(),
  });
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

/** GET /export, reading `keep` bytes of it, then hanging up; resolves with the bytes read. */
function exportThenHangUp(cookie: string, keep: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/export?range=all&subject=bulk`, { headers: { cookie, accept: 'application/x-ndjson' } }, (res) => {
      assert.equal(res.statusCode, 200);
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n >= keep) {
          req.destroy();
          resolve(n);
        }
      });
      res.on('end', () => resolve(n));
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
  });
}

test('an export the client hangs up on half-way is an audit.access export event (status 499, what was written), for generated hang-up points', async () => {
  const rnd = prng(5);
  const readers = Array.from({ length: 3 }, (_, i) => `reader${i}`);
  for (const name of readers) {
    const cookie = await signIn(name);
    const read = await exportThenHangUp(cookie, 1 + Math.floor(rnd() * 2_000_000));
    assert.ok(read < 15_000_000, 'the client left before the end');
  }
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'reader' }, logger);
  const exportsBy = (events: Awaited<ReturnType<typeof rawEventsWhen>>, sub: string) =>
    events.filter((e) => e.kind === 'audit.access' && e.actor.sub === sub && e.attributes['access.action'] === 'export');
  const seen = await rawEventsWhen(kafka, 'the export events of every reader', (events) => readers.every((r) => exportsBy(events, r).length > 0), 20_000);
  for (const r of readers) {
    const [e, ...more] = exportsBy(seen, r);
    assert.equal(more.length, 0, `one export event for ${r}`);
    assert.equal(e!.http?.response?.status, 499);
    assert.equal(e!.outcome, 'failure');
    const results = Number(e!.attributes['access.results']);
    assert.ok(results > 0 && results < EVENTS, `${r}: ${results} events written before the client left`);
  }
});
