/**
 * Differential test of the bulk bodies: the ndjson the indexer builds itself, in requests of
 * `perBulk` documents (bulkBodies), against the plain path it replaced, an `operations` array of
 * objects that @elastic/elasticsearch serialises with JSON.stringify per op plus a newline
 * (Serializer.ndserialize). Generated batches: every example, a maximal value of every event kind,
 * alert and session, boundary values at random leaves, ids and strings that need JSON escaping,
 * repeated session revisions, and records that cannot be decoded, at several request sizes.
 * Then the same generated batch is indexed both ways into the embedded search node: the same
 * outcome, dead letters and stored sources.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { alertsDataStream, alertToEcsDocument, eventsDataStream, sessionToEcsDocument, toEcsDocument, withIndexTimes } from '@jwt-audit/ecs';
import { boundaryValues, maximal, withLeaf } from '@jwt-audit/ecs/testing';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import {
  alertCodec,
  EVENT_KINDS,
  eventCodec,
  newId,
  readSchemaFile,
  SCHEMAS_DIR,
  sessionCodec,
  TOPICS,
  type Alert,
  type AuditEvent,
  type SessionSummary,
} from '@jwt-audit/events';
import type { DeadLetterRequest, InputRecord } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { installTemplates } from './templates.js';
import { bulkBodies, indexBatch } from './sink.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const ODD_STRINGS = ['"quoted"', 'back\\slash', 'line\nbreak\ttab', '\u0001\u001f', 'ü€😀', '</script>', '\u2028\u2029', ''];

function generated(seed: number, count: number): { events: AuditEvent[]; alerts: Alert[]; sessions: SessionSummary[]; examples: AuditEvent[] } {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const eventSchema = readSchemaFile('avro/audit-event.avsc') as never;
  const alertSchema = readSchemaFile('avro/alert.avsc') as never;
  const sessionSchema = readSchemaFile('avro/session.avsc') as never;
  const examples = readdirSync(path.join(SCHEMAS_DIR, 'examples'))
    .filter((n) => n.endsWith('.json') && n !== 'alert.json')
    .map((f) => readSchemaFile(`examples/${f}`) as AuditEvent);
  const maximalEvents = EVENT_KINDS.map((kind) => maximal(eventSchema, { kind }));
  const events: AuditEvent[] = [];
  for (let i = 0; i < count; i++) {
    let e: AuditEvent;
    if (rand() < 0.5) e = structuredClone(pick(examples));
    else {
      const m = pick(maximalEvents);
      // a boundary value Avro accepts at one or two random leaves
      let v = m.value;
      for (let k = 0; k < 2; k++) {
        const leaf = pick(m.leaves);
        if (leaf.path[0] === 'kind' || leaf.path[0] === 'schemaVersion') continue;
        v = withLeaf(v, leaf.path, pick([...boundaryValues(leaf), ...(leaf.avroType === 'string' ? ODD_STRINGS : [])]));
      }
      e = v as unknown as AuditEvent;
    }
    e.id = newId();
    e.actor = { ...e.actor, sub: rand() < 0.3 ? pick(ODD_STRINGS) : `user-${i % 7}` };
    events.push(e);
  }
  const alerts: Alert[] = Array.from({ length: Math.ceil(count / 5) }, (_, i) => {
    const a = (i % 2 === 0 ? structuredClone(readSchemaFile('examples/alert.json')) : maximal(alertSchema).value) as unknown as Alert;
    return { ...a, id: newId() };
  });
  // several revisions of a few sessions, in order: the last one in a batch is the one written
  const base = maximal(sessionSchema).value as unknown as SessionSummary;
  const sessions: SessionSummary[] = Array.from({ length: Math.ceil(count / 3) }, (_, i) => ({
    ...base,
    id: `sid:${pick(['a', 'b', 'c', 'd"q'])}@1796112000000`,
    revision: i + 1,
    requests: i,
  }));
  return { events, alerts, sessions, examples };
}

let offset = 0;
const record = (topic: string, value: Buffer | null, headers: Record<string, Buffer | string> = {}): InputRecord => ({
  topic,
  partition: 0,
  offset: String(offset++),
  key: null,
  value,
  headers,
  timestamp: 0,
});

function records(seed: number, count: number): { events: InputRecord[]; alerts: InputRecord[]; sessions: InputRecord[]; sessionIds: string[] } {
  const g = generated(seed, count);
  const rand = prng(seed + 1);
  const undecodable = (topic: string) => (rand() < 0.5 ? record(topic, null) : record(topic, Buffer.from([0xff, 0x00, 0x13]), {}));
  const withBad = (topic: string, rs: InputRecord[]) => rs.flatMap((r) => (rand() < 0.05 ? [undecodable(topic), r] : [r]));
  const encode = (topic: string, x: { value: Buffer; headers: Record<string, Buffer | string> }) => record(topic, x.value, x.headers);
  // a mutation the producer's validation refuses never reaches the topic: that event goes unmutated
  const encodeEvent = (e: AuditEvent, i: number) => {
    try {
      return eventCodec.encode(e);
    } catch {
      return eventCodec.encode({ ...structuredClone(g.examples[i % g.examples.length]!), id: e.id });
    }
  };
  return {
    sessionIds: g.sessions.map((s) => s.id),
    events: withBad(
      TOPICS.enriched,
      g.events.map((e, i) => encode(TOPICS.enriched, encodeEvent(e, i))),
    ),
    alerts: withBad(
      TOPICS.alerts,
      g.alerts.map((a) => encode(TOPICS.alerts, alertCodec.encode(a))),
    ),
    sessions: withBad(
      TOPICS.sessions,
      g.sessions.map((s) => encode(TOPICS.sessions, sessionCodec.encode(s))),
    ),
  };
}

/** The plain path (the indexer before it built ndjson itself): ops as objects, serialised as the client's ndserialize does. */
function plain(rs: InputRecord[], namespace: string, now: string): { body: string; origin: InputRecord[]; dead: InputRecord[] } {
  const operations: object[] = [];
  const origin: InputRecord[] = [];
  const dead: InputRecord[] = [];
  const sessionOp = new Map<string, number>();
  for (const r of rs) {
    try {
      if (!r.value) throw new TypeError('empty');
      if (r.topic === TOPICS.sessions) {
        const s = sessionCodec.decode(r.value, r.headers);
        const doc = withIndexTimes(sessionToEcsDocument(s), now);
        const at = sessionOp.get(s.id);
        if (at !== undefined) {
          operations[at * 2 + 1] = doc;
          origin[at] = r;
          continue;
        }
        sessionOp.set(s.id, origin.length);
        operations.push({ index: { _index: `audit-sessions-${namespace}`, _id: s.id } }, doc);
      } else if (r.topic === TOPICS.alerts) {
        const a = alertCodec.decode(r.value, r.headers);
        operations.push({ create: { _index: alertsDataStream(namespace), _id: a.id } }, withIndexTimes(alertToEcsDocument(a), now, namespace));
      } else {
        const e = eventCodec.decode(r.value, r.headers);
        operations.push({ create: { _index: eventsDataStream(namespace), _id: e.id } }, withIndexTimes(toEcsDocument(e), now, namespace));
      }
      origin.push(r);
    } catch {
      dead.push(r);
    }
  }
  let body = '';
  for (const op of operations) body += `${JSON.stringify(op)}\n`;
  return { body, origin, dead };
}

function fast(rs: InputRecord[], namespace: string, now: string, perBulk: number) {
  const deadLetters: DeadLetterRequest[] = [];
  const bulks = [...bulkBodies(rs, namespace, now, deadLetters, perBulk)];
  return { bulks, deadLetters };
}

const NOW = '2026-12-03T18:00:00.000Z';

test('generated batches of each topic: the ndjson bodies, split at any size, are byte for byte what the client makes of the plain operations', () => {
  let compared = 0;
  for (const seed of [1, 2, 3, 4, 5]) {
    const batch = records(seed, 60);
    for (const rs of [batch.events, batch.alerts, batch.sessions]) {
      const want = plain(rs, 'diff', NOW);
      for (const perBulk of [1, 2, 7, 200, 100_000]) {
        const got = fast(rs, 'diff', NOW, perBulk);
        assert.equal(got.bulks.map((b) => `${b.body}\n`).join(''), want.body, `seed ${seed}, ${rs[0]!.topic}, ${perBulk} per bulk`);
        assert.deepEqual(
          got.bulks.flatMap((b) => b.origin.map((r) => r.offset)),
          want.origin.map((r) => r.offset),
        );
        assert.deepEqual(
          got.deadLetters.map((d) => d.record.offset),
          want.dead.map((r) => r.offset),
        );
        for (const d of got.deadLetters) assert.match(d.error.code, /^AUDIT_ERR_/);
        if (rs[0]!.topic !== TOPICS.sessions) {
          for (const b of got.bulks) assert.ok(b.origin.length <= perBulk);
          assert.equal(got.bulks.length, Math.max(1, Math.ceil(want.origin.length / perBulk)));
        } else assert.equal(got.bulks.length, 1, 'session summaries: one request, one write per session');
        compared += want.origin.length;
      }
    }
  }
  assert.ok(compared > 1000, `${compared} documents compared`);
});

test('a mixed batch: events and alerts in order in their requests, then the sessions, each pair as the plain path serialises it', () => {
  const batch = records(9, 80);
  // interleaved at random, each topic's records still in their order
  const rand = prng(10);
  const queues = [batch.events, batch.alerts, batch.sessions].map((q) => [...q]);
  const rs: InputRecord[] = [];
  while (queues.some((q) => q.length > 0)) {
    const q = queues.filter((x) => x.length > 0);
    rs.push(q[Math.floor(rand() * q.length)]!.shift()!);
  }
  const want = plain(rs, 'diff', NOW);
  const pairs = want.body.trimEnd().split('\n');
  const wantCreate: string[] = [];
  const wantIndex: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) (pairs[i]!.startsWith('{"index"') ? wantIndex : wantCreate).push(pairs[i]!, pairs[i + 1]!);
  const got = fast(rs, 'diff', NOW, 13);
  const sessions = got.bulks.at(-1)!;
  assert.equal(
    got.bulks
      .slice(0, -1)
      .map((b) => b.body)
      .join('\n'),
    wantCreate.join('\n'),
  );
  assert.equal(sessions.body, wantIndex.join('\n'));
  assert.deepEqual(got.deadLetters.map((d) => d.record.offset).sort(), want.dead.map((r) => r.offset).sort());
});

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let dir: string;
let node: SearchNode;
let es: Client;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'indexer-bulk-'));
  node = await startSearchNode({ dir, port: 0 });
  es = new Client({ node: node.url });
  await installTemplates(es, logger);
});
after(async () => {
  await es.close();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the same generated batch indexed in requests of 3 and in one request: the same outcome, dead letters and stored documents; again: all duplicates', async () => {
  const batch = records(21, 90);
  const rs = [...batch.events, ...batch.alerts, ...batch.sessions];
  const split = await indexBatch(es, rs, 'split', undefined, 3);
  const whole = await indexBatch(es, rs, 'whole', undefined, 100_000);
  assert.equal(split.written, whole.written);
  assert.ok(split.written > 100);
  assert.equal(split.duplicates, 0);
  assert.deepEqual(
    split.deadLetters.map((d) => [d.record.offset, d.error.code]),
    whole.deadLetters.map((d) => [d.record.offset, d.error.code]),
  );
  await es.indices.refresh();
  const sources = async (ns: string) => {
    const r = await es.search<Record<string, unknown>>({
      index: `logs-jwt_audit.events-${ns},logs-jwt_audit.alerts-${ns},audit-sessions-${ns}`,
      size: 1000,
      query: { match_all: {} },
    });
    return new Map(
      r.hits.hits.map((h) => {
        // the namespace and the time of indexing differ by design
        const s = structuredClone(h._source!) as { data_stream?: { namespace?: string }; event?: { ingested?: string } };
        if (s.data_stream) s.data_stream.namespace = 'ns';
        if (s.event) s.event.ingested = 'then';
        return [`${h._index.replace(ns, 'ns').replace(/^\.ds-|-\d{4}\.\d{2}\.\d{2}-\d+$/g, '')} ${h._id}`, s];
      }),
    );
  };
  const [a, b] = await Promise.all([sources('split'), sources('whole')]);
  assert.equal(a.size, split.written);
  assert.deepEqual(a, b);
  const again = await indexBatch(es, rs, 'split', undefined, 4);
  // sessions are replaced (`index`), events and alerts come back as 409: done, never twice
  assert.equal(again.written + again.duplicates, split.written);
  assert.equal(again.written, new Set(batch.sessionIds).size);
});

test('Elasticsearch unreachable: a batch sent as several requests fails once, retriable, after every request answered', async () => {
  const closed = await startSearchNode({ dir: path.join(dir, 'closed'), port: 0 });
  const url = closed.url;
  await closed.close();
  const down = new Client({ node: url, maxRetries: 0 });
  try {
    const batch = records(33, 20);
    await assert.rejects(indexBatch(down, batch.events, 'down', undefined, 2), (err: { code?: string; retriable?: boolean }) => {
      assert.equal(err.code, 'AUDIT_ERR_ES_UNAVAILABLE');
      assert.equal(err.retriable, true);
      return true;
    });
  } finally {
    await down.close();
  }
});
