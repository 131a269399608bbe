/**
 * Issue #25 item 2, "Done when": a broker outage of 30 s produces fewer than 10 log lines per
 * service. The interceptor, masker, enricher, indexer and anomaly detector run in-process, each
 * with its own root logger at the production level (info) writing to a destination captured
 * here, against the embedded broker, which is closed for 30 s and started again on the same port
 * and data directory while requests keep arriving at the edge. Before the dependency state
 * (packages/runtime dependency-log.ts) one interceptor wrote 434 lines (173 with stacks) and each
 * consumer service ~90 in the same outage.
 *
 * Each service must write, from the broker's close until everything has recovered: fewer than 10
 * lines, one "kafka unreachable" line, at least one "still unreachable ... failed attempts" count
 * line, one "kafka reachable again" line, and no stack. Recovery is checked too: a request
 * answered during the outage (spooled by the interceptor) is found in the search node.
 * The interceptor's producer thread writes to the process's stdout, not to the captured
 * destination: its kafka state is quiet (debug), so what it would write is nothing at info.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { newId } from '@jwt-audit/events';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { startAuthServer, startUpstream } from '@jwt-audit/demo';
import { createInterceptor, defaults as interceptorDefaults, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createDetectorService, defaults as detectorDefaults } from '@jwt-audit/anomaly-detector';
import { until } from '@jwt-audit/runtime/testing/wait';

const OUTAGE_MS = 30_000;
const NAMESPACE = 'outage';
const silent = createLogger({ name: 'outage', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A service's root logger, as its main.ts makes it (level info), writing to lines we keep. */
function capture(name: string) {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { name, lines, logger: createLogger({ name, level: 'info', destination }) };
}

test('a 30 s broker outage: fewer than 10 lines per service, each with a down line, a count line and a back line, no stack', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'outage-'));
  const stops: Array<() => Promise<void>> = [];
  let broker: Broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await broker.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const port = broker.port;
  const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  const kafkaCfg = (clientId: string) => ({ brokers: [broker.address], clientId });
  await ensureTopics(createKafkaClient(kafkaCfg('setup'), silent), defaultTopics(3));
  const auth = await startAuthServer({ port: 0, logger: silent });
  stops.push(() => auth.close());
  const upstream = await startUpstream({ port: 0, logger: silent });
  stops.push(() => upstream.close());

  const cap = {
    interceptor: capture('interceptor'),
    masker: capture('masker'),
    enricher: capture('enricher'),
    indexer: capture('indexer'),
    detector: capture('anomaly-detector'),
  };
  const services = [
    createMaskerService(
      { ...maskerDefaults, kafka: kafkaCfg('masker'), ops: {}, hmac: { keyId: 'o1', key: 'an-outage-test-masking-key' } },
      { logger: cap.masker.logger },
    ),
    createEnricherService({ ...enricherDefaults, kafka: kafkaCfg('enricher'), ops: {} }, { logger: cap.enricher.logger }),
    createIndexerService(
      { ...indexerDefaults, kafka: kafkaCfg('indexer'), elasticsearch: { url: search.url }, ops: {}, namespace: NAMESPACE },
      { logger: cap.indexer.logger },
    ),
    createDetectorService(
      { ...detectorDefaults, kafka: kafkaCfg('detector'), stateDir: path.join(dir, 'detector'), repartitionPartitions: 3, fsync: false },
      { logger: cap.detector.logger, ops: false },
    ),
  ];
  for (const s of services) {
    await s.start();
    stops.push(() => s.stop());
  }
  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { api: upstream.url },
    routes: [{ name: 'orders', path: '/api/orders', methods: ['GET'], upstream: 'api', auth: 'none' }],
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, 'spool') },
    kafka: kafkaCfg('interceptor'),
    ops: {},
  };
  const interceptor = createInterceptor(config, { logger: cap.interceptor.logger, ops: false });
  const { url: edge } = await interceptor.start();
  stops.push(() => interceptor.stop());

  const es = new Client({ node: search.url });
  stops.push(() => es.close());
  const indexed = async (id: string): Promise<true | undefined> => {
    await es.indices.refresh({ index: `logs-jwt_audit.events-${NAMESPACE}` });
    const r = await es.search({ index: `logs-jwt_audit.events-${NAMESPACE}`, size: 1, query: { term: { 'http.request.id': id } } });
    return r.hits.hits.length > 0 ? true : undefined;
  };
  const request = async (id = newId()) => {
    const res = await fetch(`${edge}/api/orders`, { headers: { 'x-request-id': id } });
    await res.arrayBuffer();
    return { id, status: res.status };
  };
  // the pipeline works end to end before the outage
  const before = await request();
  assert.equal(before.status, 200);
  await until('a request indexed before the outage', () => indexed(before.id), 45_000);

  // traffic throughout: the interceptor spools while the broker is down
  const traffic = setInterval(() => void request().catch(() => undefined), 500);
  stops.push(async () => clearInterval(traffic));
  const from = Object.fromEntries(Object.entries(cap).map(([k, c]) => [k, c.lines.length])) as Record<keyof typeof cap, number>;
  await broker.close();
  const closedAt = Date.now();
  await new Promise((r) => setTimeout(r, OUTAGE_MS / 2));
  const during = await request();
  assert.equal(during.status, 200, 'the edge keeps answering while Kafka is down');
  await new Promise((r) => setTimeout(r, closedAt + OUTAGE_MS - Date.now()));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port });
  t.diagnostic(`broker down ${((Date.now() - closedAt) / 1000).toFixed(1)} s`);

  // recovered: every service said so, and the request answered during the outage is searchable
  const allBack = () =>
    (Object.keys(cap) as Array<keyof typeof cap>).every((k) => cap[k].lines.slice(from[k]).some((l) => /^kafka reachable again/.test(l.msg)));
  await until('every service logs that Kafka is back', () => (allBack() ? true : undefined), 45_000);
  await until('the request answered during the outage indexed', () => indexed(during.id), 45_000);
  clearInterval(traffic);
  // whatever follows the recovery closely (rejoins, spool drain) belongs to the outage too
  await new Promise((r) => setTimeout(r, 5_000));

  for (const key of Object.keys(cap) as Array<keyof typeof cap>) {
    const c = cap[key];
    const lines = c.lines.slice(from[key]);
    t.diagnostic(`${c.name}: ${lines.length} lines`);
    for (const l of lines) t.diagnostic(`  ${l.level} ${l.msg}`);
    const text = lines.map((l) => JSON.stringify(l));
    assert.ok(lines.length < 10, `${c.name}: ${lines.length} lines during a 30 s outage:\n${text.join('\n')}`);
    assert.equal(lines.filter((l) => /^kafka unreachable: /.test(l.msg)).length, 1, `${c.name}: one line when Kafka goes down`);
    const counts = lines.filter((l) => /^kafka still unreachable after \d+ s: \d+ failed attempts since the last line/.test(l.msg));
    assert.ok(counts.length >= 1, `${c.name}: a count line while Kafka is down`);
    assert.ok(
      counts.every((l) => typeof l.failures === 'number' && l.failures > 0 && typeof l.downMs === 'number'),
      `${c.name}: count lines carry failures and downMs`,
    );
    assert.equal(
      lines.filter((l) => /^kafka reachable again after \d+ s \(\d+ failed attempts\)$/.test(l.msg)).length,
      1,
      `${c.name}: one line when Kafka is back`,
    );
    assert.ok(
      text.every((l) => !l.includes('"stack"') && !/\\n\s+at /.test(l)),
      `${c.name}: no stack at info`,
    );
    assert.ok(
      lines.every((l) => l.level <= 40),
      `${c.name}: an outage that heals is no error:\n${text.filter((l) => !l.includes('"level":30') && !l.includes('"level":40')).join('\n')}`,
    );
  }
});
