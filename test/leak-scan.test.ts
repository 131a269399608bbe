/**
 * The leak scan: a canary corpus (packages/masking canary.ts, 72 kinds) planted through the
 * running pipeline on the embedded broker and search node, body capture on for every route and the
 * ingest API fed every field, then every byte stored after audit.raw.v1 scanned for every planted
 * secret in plain, JSON-escaped, percent-encoded and base64 form:
 *   audit.masked.v1, audit.enriched.v1, audit.alerts.v1, audit.dlq.v1 (keys, headers, values);
 *   the search node's documents and its data directory; the archive's files and its export;
 *   every service's log (one pino destination for all of them, level info); the interceptor's
 *   spool; each service's /metrics; the detector's state directory.
 * Each placement plants its own variant of the corpus (canaryCorpus(placement)), so a value found
 * names its kind and its placement; a hit fails the test naming kind, placement and where. The
 * maintained rule set (secretlint's recommended preset) runs over every stored document as well.
 * LEAK_CONTEXT=1 adds the bytes around each hit to the failure. audit.raw.v1 itself (restricted, short retention) and audit.revocations.v1 (the edge's own
 * enforcement data: shape-checked jti and subjects) are the inputs, not scanned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
import { exportEvents, localStorage } from '@jwt-audit/archive';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { canaryCorpus, type CanaryKind } from '@jwt-audit/masking/testing';
import { createLogger } from '@jwt-audit/runtime';
import { startAuthServer } from '@jwt-audit/demo';
import { createInterceptor, defaults as interceptorDefaults, signIngestBody, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createArchiverService, archiverDefaults } from '@jwt-audit/archiver';
import { createDetectorService, defaults as detectorDefaults } from '@jwt-audit/anomaly-detector';
import { until } from '@jwt-audit/runtime/testing/wait';
import { caughtUp, topicEnd } from './support/embedded.js';

const HTTP_PLACEMENTS = [
  'request header',
  'query',
  'nested JSON',
  'form',
  'multipart',
  'free text',
  'response body',
  'response header',
  'forged token claims',
] as const;
/** Lifecycle-event fields of the ingest API: each kind is pushed in each of them (a 400 is a refusal, not a leak). */
const INGEST_FIELDS: Record<string, (v: string) => Record<string, unknown>> = {
  subject: (v) => ({ subject: v }),
  clientId: (v) => ({ clientId: v }),
  tenant: (v) => ({ tenant: v }),
  roles: (v) => ({ roles: [v] }),
  scopes: (v) => ({ scopes: [v] }),
  'token.jti': (v) => ({ token: { fingerprint: 'a'.repeat(64), jti: v } }),
  'token.sid': (v) => ({ token: { fingerprint: 'a'.repeat(64), sid: v } }),
  'token.iss': (v) => ({ token: { fingerprint: 'a'.repeat(64), iss: v } }),
  'token.aud': (v) => ({ token: { fingerprint: 'a'.repeat(64), aud: [v] } }),
  'token.kid': (v) => ({ token: { fingerprint: 'a'.repeat(64), kid: v } }),
  'token.familyId': (v) => ({ token: { fingerprint: 'a'.repeat(64), familyId: v } }),
  'session.id': (v) => ({ type: 'session.started', subject: 'leak-scan', session: { id: v } }),
  'session.reason': (v) => ({ type: 'session.ended', subject: 'leak-scan', session: { id: 's-1', reason: v } }),
  'key.jwksUrl': (v) => ({ type: 'key.rotated', key: { jwksUrl: v } }),
  'key.added': (v) => ({ type: 'key.rotated', key: { added: [v] } }),
  reason: (v) => ({ reason: v }),
  'source.service': (v) => ({ source: { service: v } }),
  id: (v) => ({ id: v }),
  'attribute value': (v) => ({ attributes: { note: v } }),
  'attribute key': (v) => ({ attributes: { [v]: 'x' } }),
};
const PLACEMENTS = [...HTTP_PLACEMENTS, ...Object.keys(INGEST_FIELDS).map((f) => `ingest ${f}`)];

const forms = (s: string): Array<[string, string]> => [
  ['plain', s],
  ['JSON-escaped', JSON.stringify(s).slice(1, -1)],
  ['percent-encoded', encodeURIComponent(s)],
  ['base64', Buffer.from(s).toString('base64')],
];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  try {
    if (statSync(dir).isDirectory()) walk(dir);
  } catch {
    // not created: nothing stored there
  }
  return out;
}

/** An upstream that answers with what it was told to: the response body and header placements. */
function echoUpstream(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = Buffer.from(String(req.headers['x-echo-body'] ?? ''), 'base64').toString('utf8');
      const header = Buffer.from(String(req.headers['x-echo-header'] ?? ''), 'base64').toString('utf8');
      const out = JSON.stringify({ ok: true, echo: body });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream-debug': header, 'content-length': Buffer.byteLength(out) }).end(out);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server })),
  );
}

test('leak scan: 72 canary kinds x 29 placements through the running pipeline; nothing stored after audit.raw.v1 holds any of them, in any form', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'leak-scan-'));
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const logLines: Buffer[] = [];
  const logger = createLogger({
    name: 'leak-scan',
    level: 'info',
    destination: new Writable({ write: (c, _e, cb) => void (logLines.push(Buffer.from(c)), cb()) }),
  });

  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  stops.push(() => broker.close());
  const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  const kafkaCfg = (clientId: string) => ({ brokers: [broker.address], clientId });
  await ensureTopics(createKafkaClient(kafkaCfg('setup'), logger), defaultTopics(3));
  const auth = await startAuthServer({ port: 0, logger });
  stops.push(() => auth.close());
  const upstream = await echoUpstream();
  stops.push(() => new Promise((r) => upstream.server.close(() => r())));

  const ops = { port: 0, host: '127.0.0.1' };
  const services = [
    createMaskerService({ ...maskerDefaults, kafka: kafkaCfg('masker'), ops, hmac: { keyId: 'leak', key: 'a-leak-scan-masking-key-0123' } }, { logger }),
    createEnricherService({ ...enricherDefaults, kafka: kafkaCfg('enricher'), ops }, { logger }),
    createIndexerService({ ...indexerDefaults, kafka: kafkaCfg('indexer'), elasticsearch: { url: search.url }, ops, namespace: 'leak' }, { logger }),
    createArchiverService(
      {
        ...archiverDefaults,
        kafka: kafkaCfg('archiver'),
        ops,
        dir: path.join(dir, 'archive'),
        keys: { dir: path.join(dir, 'keys'), generate: true },
        seal: { maxRecords: 500, maxBytes: 1 << 20, maxAgeMs: 300 },
      },
      { logger },
    ),
  ];
  const metricsUrls: string[] = [];
  for (const s of services) {
    const r = await s.start();
    if (r.metricsUrl) metricsUrls.push(r.metricsUrl);
    stops.push(() => s.stop());
  }
  const detector = createDetectorService(
    { ...detectorDefaults, kafka: kafkaCfg('detector'), stateDir: path.join(dir, 'detector'), repartitionPartitions: 3, fsync: false, ops },
    { logger },
  );
  const d = await detector.start();
  if (d.opsUrl) metricsUrls.push(d.opsUrl);
  stops.push(() => detector.stop());

  const ingestKey = 'leak-scan-ingest-hmac-secret-0123456789';
  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { api: upstream.url },
    routes: [{ name: 'api', path: '/api/*', methods: ['GET', 'POST'], upstream: 'api' }],
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    capture: {
      ...interceptorDefaults.capture,
      bodies: 'both',
      maxBodyBytes: 16_384,
      headers: [...interceptorDefaults.capture.headers, 'x-debug', 'x-upstream-debug', 'x-forwarded-for'],
    },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, 'spool') },
    ingest: { ...interceptorDefaults.ingest, enabled: true, hmacKeys: [{ id: 'k1', secret: ingestKey }] },
    kafka: kafkaCfg('interceptor'),
    ops,
  };
  const interceptor = createInterceptor(config, { logger });
  const { url: edge, opsUrl } = await interceptor.start();
  if (opsUrl) metricsUrls.push(opsUrl);
  stops.push(() => interceptor.stop());
  const token = await auth.sign({ sub: 'leak-scan', scope: 'orders:read' });
  const phases: string[] = [];
  let t0 = Date.now();
  const phase = (name: string) => (phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`), (t0 = Date.now()));

  // what was planted where: secret -> "kind @ placement"
  const planted = new Map<string, string>();
  const plant = (placement: string): CanaryKind[] => {
    const kinds = canaryCorpus(`leak-scan/${placement}/`);
    for (const c of kinds) for (const s of c.secrets) planted.set(s, `${c.kind} @ ${placement}`);
    return kinds;
  };
  const corpora = Object.fromEntries(PLACEMENTS.map((p) => [p, plant(p)])) as Record<string, CanaryKind[]>;
  const kinds = corpora['query']!.length;
  assert.ok(kinds >= 60 && PLACEMENTS.length >= 8);

  // HTTP: one request per kind carries the header, query, JSON and both response placements; one
  // each for form, multipart and free text
  const noNl = (s: string) => s.replace(/[\r\n]+/g, ' ');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const requests: Array<() => Promise<Response>> = [];
  // a token whose signature does not verify, its claims the attacker's: rejected (401), two events
  const b64u = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const forged = (v: string) =>
    `${b64u({ alg: 'RS256', kid: 'forged', typ: 'JWT' })}.${b64u({ sub: v, jti: v, sid: v, iss: v, aud: v, fid: v, exp: Math.floor(Date.now() / 1000) + 600 })}.${Buffer.alloc(256, 7).toString('base64url')}`;
  let forgedRequests = 0;
  for (let i = 0; i < kinds; i++) {
    const at = (p: string) => corpora[p]![i]!.plant;
    const common = { authorization: `Bearer ${token}`, 'x-echo-body': b64(at('response body')), 'x-echo-header': b64(noNl(at('response header'))) };
    requests.push(() =>
      fetch(`${edge}/api/orders?page=1&q=${encodeURIComponent(at('query'))}`, {
        method: 'POST',
        headers: { ...common, 'x-debug': noNl(at('request header')), 'content-type': 'application/json' },
        body: JSON.stringify({ order: { lines: [{ note: at('nested JSON') }] } }),
      }),
    );
    requests.push(() =>
      fetch(`${edge}/api/form`, {
        method: 'POST',
        headers: { ...common, 'content-type': 'application/x-www-form-urlencoded' },
        body: `user=bob&comment=${encodeURIComponent(at('form'))}`,
      }),
    );
    requests.push(() =>
      fetch(`${edge}/api/upload`, {
        method: 'POST',
        headers: { ...common, 'content-type': 'multipart/form-data; boundary=leakscan' },
        body: `preamble\r\n--leakscan\r\nContent-Disposition: form-data; name="comment"\r\n\r\n${at('multipart')}\r\n--leakscan--\r\n`,
      }),
    );
    requests.push(() => (forgedRequests++, fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${forged(at('forged token claims'))}` } })));
    requests.push(() =>
      fetch(`${edge}/api/log`, {
        method: 'POST',
        headers: { ...common, 'content-type': 'text/plain; charset=utf-8' },
        body: `log line: ${at('free text')} end`,
      }),
    );
  }
  // ingest: every field, every kind. One event per kind and event type carries all of that type's
  // fields (each field its own corpus variant), so the pipeline carries ~200 events rather than
  // ~1,400; a 400 must name, by event index and field, each value out of shape; those fields are
  // taken out and the batch is sent again until it is accepted
  let ingested = 0;
  let refused = 0;
  const push = async (events: unknown[]) => {
    const body = JSON.stringify({ events });
    const r = await fetch(`${edge}/audit/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-audit-signature': signIngestBody(ingestKey, body), 'x-audit-key-id': 'k1' },
      body,
    });
    return { status: r.status, body: (await r.json()) as { errors?: Array<{ field: string }> } };
  };
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b))
      out[k] =
        v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object'
          ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>)
          : v;
    return out;
  };
  const groups: Record<string, { base: Record<string, unknown>; fields: string[] }> = {
    'token.issued': {
      base: { type: 'token.issued', subject: 'leak-scan', token: { fingerprint: 'a'.repeat(64) } },
      fields: Object.keys(INGEST_FIELDS).filter((f) => !f.startsWith('session.') && !f.startsWith('key.')),
    },
    'session.ended': { base: { type: 'session.ended', subject: 'leak-scan', session: { id: 's-1' } }, fields: ['session.id', 'session.reason'] },
    'key.rotated': { base: { type: 'key.rotated', key: {} }, fields: ['key.jwksUrl', 'key.added'] },
  };
  // the field an error names, as a placement: the longest field name it starts with
  const byLength = Object.keys(INGEST_FIELDS).sort((x, y) => y.length - x.length);
  const placementOf = (errorField: string): string[] => {
    if (errorField === 'attributes' || errorField.startsWith('attributes.')) return ['attribute key'];
    const f = byLength.find((k) => errorField === k || errorField.startsWith(`${k}.`));
    return f ? [f] : [];
  };
  for (const { base, fields } of Object.values(groups)) {
    const live = Array.from({ length: kinds }, () => new Set(fields));
    const build = () =>
      live.map((set, i) =>
        [...set].reduce<Record<string, unknown>>((e, f) => merge(e, INGEST_FIELDS[f]!(corpora[`ingest ${f}`]![i]!.plant)), {
          ...base,
          occurredAt: new Date().toISOString(),
        }),
      );
    for (let round = 0; ; round++) {
      assert.ok(round < 4, 'the batch is accepted once the fields named are taken out');
      const r = await push(build());
      if (r.status === 202) break;
      assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 300));
      let named = 0;
      const sent = live.map((set) => new Set(set)); // one field may be named by several errors
      for (const e of r.body.errors ?? []) {
        const m = /^events\.(\d+)\.(.*)$/.exec(e.field);
        assert.ok(m, `a problem names event and field: ${e.field}`);
        const p = placementOf(m![2]!);
        assert.ok(p.length === 1 && sent[Number(m![1])]!.has(p[0]!), `a problem names a planted field: ${e.field}`);
        if (live[Number(m![1])]!.delete(p[0]!)) {
          refused++;
          named++;
        }
      }
      assert.ok(named > 0, 'a refusal names what it refused');
    }
    ingested += kinds;
  }
  let httpEvents = 0;
  for (let i = 0; i < requests.length; i += 16) {
    const batch = await Promise.all(requests.slice(i, i + 16).map((f) => f()));
    for (const r of batch) {
      await r.arrayBuffer();
      if (r.status === 401) continue; // the forged tokens
      assert.equal(r.status, 200);
      httpEvents++;
    }
  }
  assert.equal(httpEvents + forgedRequests, 5 * kinds);
  // a rejected token is a token.rejected and the http.exchange that records the answer
  const expected = httpEvents + 2 * forgedRequests + ingested;

  // everything through: indexed and archived
  const es = new Client({ node: search.url });
  stops.push(() => es.close());
  phase('sent');
  await until(
    'every event indexed',
    async () => {
      await es.indices.refresh({ index: 'logs-jwt_audit.events-leak' });
      const n = (await es.count({ index: 'logs-jwt_audit.events-leak' })).count;
      return n >= expected ? n : undefined;
    },
    120_000,
  );
  const storage = localStorage(path.join(dir, 'archive'));
  const exported: string[] = [];
  phase('indexed');
  await until(
    'every event archived',
    async () => {
      exported.length = 0;
      for await (const r of exportEvents(storage, 0, Date.now() + 60_000)) exported.push(JSON.stringify(r));
      return exported.length >= expected ? true : undefined;
    },
    60_000,
  );

  phase('archived');
  // what is stored, by place
  const stored: Array<[string, Buffer]> = [];
  const consumer = createKafkaClient(kafkaCfg('leak-reader'), logger).consumer({ groupId: 'leak-reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  const topics = [TOPICS.masked, TOPICS.enriched, TOPICS.alerts, TOPICS.dlq];
  await consumer.subscribe({ topics, fromBeginning: true });
  const counts = new Map<string, number>();
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      counts.set(topic, (counts.get(topic) ?? 0) + 1);
      const headers = Object.entries(message.headers ?? {})
        .map(([k, v]) => `${k}=${String(v)}`)
        .join('\n');
      stored.push([`topic ${topic}`, Buffer.concat([message.key ?? Buffer.alloc(0), Buffer.from(headers), message.value ?? Buffer.alloc(0)])]);
    },
  });
  await until('the topics read', async () =>
    (counts.get(TOPICS.masked) ?? 0) >= expected && (counts.get(TOPICS.enriched) ?? 0) >= expected ? true : undefined,
  );
  // alerts and dead letters trail the events: the stages that write them have committed every
  // input record (after writing), and the reader has read both topics to their end
  const setup = createKafkaClient(kafkaCfg('leak-offsets'), logger);
  await until('every stage caught up', () =>
    caughtUp(setup, {
      [maskerDefaults.groupId]: [TOPICS.raw],
      [enricherDefaults.groupId]: [TOPICS.masked],
      [indexerDefaults.groupId]: [TOPICS.enriched, TOPICS.alerts],
      [detectorDefaults.groupId]: [TOPICS.enriched, detectorDefaults.topics.repartition],
    }),
  );
  for (const topic of [TOPICS.alerts, TOPICS.dlq]) {
    const end = await topicEnd(setup, topic);
    await until(`${topic} read to its end (${end})`, () => (counts.get(topic) ?? 0) >= end);
  }
  await consumer.disconnect();
  const docs = await es.search({ index: 'logs-jwt_audit.*', size: 10_000, query: { match_all: {} } });
  stored.push(['search node documents', Buffer.from(JSON.stringify(docs.hits.hits))]);
  stored.push(['archive export', Buffer.from(exported.join('\n'))]);
  for (const url of metricsUrls) stored.push([`metrics ${url}`, Buffer.from(await (await fetch(`${url}/metrics`)).text())]);
  await interceptor.stop();
  await detector.stop();
  for (const s of services) await s.stop();
  stored.push(['service logs', Buffer.concat(logLines)]);
  for (const [where, d2] of [
    ['search node data', 'search'],
    ['archive files', 'archive'],
    ['spool', 'spool'],
    ['detector state', 'detector'],
  ] as const) {
    for (const f of filesUnder(path.join(dir, d2))) stored.push([`${where} ${path.relative(dir, f)}`, readFileSync(f)]);
  }

  // the scan can find what is there: a value planted in every event and kept by the masking
  // (the route, the subject) is found in every place that holds events in readable form
  const control = (re: RegExp) => stored.filter(([w]) => re.test(w)).some(([, b]) => b.includes(Buffer.from('leak-scan')));
  for (const re of [/^topic audit\.masked/, /^topic audit\.enriched/, /^search node documents/, /^search node data/, /^archive export/])
    assert.ok(control(re), `control value found in ${re.source}`);

  phase('collected');
  // the scan
  const hits: string[] = [];
  const needles = [...planted].flatMap(([secret, what]) => forms(secret).map(([form, f]) => ({ f: Buffer.from(f), form, what })));
  // one pass over each stored object, looking needles up by their first 8 bytes (8,900 needles x
  // 6 MB with Buffer.includes took 26 s on the shared machine)
  const W = 8;
  const byPrefix = new Map<string, typeof needles>();
  for (const n of needles) {
    assert.ok(n.f.length >= W, `${n.what}: a needle of at least ${W} bytes`);
    const key = n.f.toString('latin1', 0, W);
    byPrefix.set(key, [...(byPrefix.get(key) ?? []), n]);
  }
  for (const [where, bytes] of stored) {
    const text = bytes.toString('latin1');
    const found = new Set<(typeof needles)[number]>();
    for (let i = 0; i + W <= text.length; i++) {
      const candidates = byPrefix.get(text.slice(i, i + W));
      if (!candidates) continue;
      for (const n of candidates) {
        if (found.has(n) || i + n.f.length > bytes.length || bytes.compare(n.f, 0, n.f.length, i, i + n.f.length) !== 0) continue;
        found.add(n);
        hits.push(`${n.what}: found ${n.form} in ${where}`);
        // LEAK_CONTEXT=1: the bytes around the hit too, to see which field kept it
        if (process.env.LEAK_CONTEXT) hits.push(text.slice(Math.max(0, i - 200), i + 60));
      }
    }
  }
  assert.deepEqual(hits.slice(0, 50), [], `${hits.length} leaks`);

  // the maintained rule set over every stored document
  const documents = [...docs.hits.hits.map((h) => JSON.stringify(h._source, null, 1)), ...exported];
  const findings = (
    await lintSource({
      source: { filePath: '/stored.json', content: documents.join('\n'), ext: '.json', contentType: 'text' },
      options: { config: { rules: [{ id: 'preset', rule: recommended }] }, maskSecrets: true },
    })
  ).messages;
  assert.deepEqual(
    findings.map((m) => `${m.ruleId}: ${m.message}`),
    [],
  );

  phase('scanned');
  t.diagnostic(
    `${kinds} kinds x ${PLACEMENTS.length} placements; ${httpEvents} proxied requests, ${forgedRequests} with forged tokens, ${ingested} ingest events accepted and ${refused} refused (400 naming the field); ${stored.length} stored objects, ${(stored.reduce((n, [, b]) => n + b.length, 0) / 1e6).toFixed(1)} MB scanned for ${needles.length} needles; ${phases.join(', ')}`,
  );
});
