import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { RawConnection, exchange, frame } from '../testdata/wire.js';

// CreateTopics 0-7, DeleteTopics 0-6 and Fetch 13-17 (topic ids) on the raw wire, encoded and
// decoded as apache/kafka 3.9's CreateTopics*/DeleteTopics*/Fetch*.json say, to the last byte.

let broker: Broker;
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-topicv-'));
  broker = await startBroker({ dir, port: 0 });
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const ZERO_ID = null;
const done = (r: Reader, what: string) => assert.equal(r.remaining(), 0, `${what}: no bytes left over`);
const tags = (r: Reader, f: boolean) => f && assert.equal(r.uvarint(), 0, 'no tagged fields');
const unknownTag = (w: Writer, f: boolean) =>
  f
    ? w
        .uvarint(1)
        .uvarint(9)
        .uvarint(2)
        .raw(Buffer.from([7, 7]))
    : w;

function createBody(v: number, topics: { name: string; partitions: number; configs: [string, string][] }[], validateOnly = false): Buffer {
  const f = v >= 5;
  const w = new Writer();
  w.arr(f, topics, (x, t) => {
    x.str(f, t.name).int32(t.partitions).int16(-1);
    x.arr(f, [], () => undefined);
    x.arr(f, t.configs, (y, [n, val]) => unknownTag(y.str(f, n).str(f, val), f));
    unknownTag(x, f);
  });
  w.int32(10_000);
  if (v >= 1) w.bool(validateOnly);
  unknownTag(w, f);
  return Buffer.from(w.toBuffer());
}

interface Created {
  name: string;
  id: string | null | undefined;
  error: number;
  message: string | null | undefined;
  partitions?: number;
  replication?: number;
  configs?: Map<string, { value: string | null; readOnly: boolean; source: number; sensitive: boolean }> | null;
}
function readCreate(v: number, b: Buffer): Created[] {
  const f = v >= 5;
  const r = new Reader(b);
  tags(r, f);
  if (v >= 2) assert.equal(r.int32(), 0);
  const out = r.arr(f, (x) => {
    const c: Created = { name: x.str(f), id: v >= 7 ? x.uuid() : undefined, error: x.int16(), message: v >= 1 ? x.nstr(f) : undefined };
    if (v >= 5) {
      c.partitions = x.int32();
      c.replication = x.int16();
      const entries = x.narr(f, (y) => {
        const e = [y.str(f), { value: y.nstr(f), readOnly: y.bool(), source: y.int8(), sensitive: y.bool() }] as const;
        tags(y, f);
        return e;
      });
      c.configs = entries && new Map(entries);
    }
    tags(x, f);
    return c;
  });
  tags(r, f);
  done(r, `CreateTopics v${v}`);
  return out;
}

function deleteBody(v: number, topics: { name: string | null; id?: string | null }[]): Buffer {
  const f = v >= 4;
  const w = new Writer();
  if (v >= 6) w.arr(f, topics, (x, t) => unknownTag(x.str(f, t.name).uuid(t.id ?? null), f));
  else w.arr(f, topics, (x, t) => x.str(f, t.name));
  w.int32(10_000);
  unknownTag(w, f);
  return Buffer.from(w.toBuffer());
}
function readDelete(v: number, b: Buffer) {
  const f = v >= 4;
  const r = new Reader(b);
  tags(r, f);
  if (v >= 1) assert.equal(r.int32(), 0);
  const out = r.arr(f, (x) => {
    const d = { name: x.nstr(f), id: v >= 6 ? x.uuid() : undefined, error: x.int16(), message: v >= 5 ? x.nstr(f) : undefined };
    tags(x, f);
    return d;
  });
  tags(r, f);
  done(r, `DeleteTopics v${v}`);
  return out;
}

function fetchBody(v: number, topicId: string | null, partition: number, offset: number): Buffer {
  const w = new Writer();
  if (v <= 14) w.int32(-1);
  w.int32(0)
    .int32(1)
    .int32(1 << 20)
    .int8(0)
    .int32(0)
    .int32(-1);
  w.arr(true, [topicId], (x, id) => {
    x.uuid(id);
    x.arr(true, [partition], (y, p) => {
      y.int32(p)
        .int32(-1)
        .int64(offset)
        .int32(-1)
        .int64(-1)
        .int32(1 << 20);
      if (v >= 17)
        y.uvarint(1).uvarint(0).uvarint(16).raw(Buffer.alloc(16, 1)); // replica_directory_id (tag 0)
      else y.uvarint(0);
    });
    x.uvarint(0);
  });
  w.arr(true, [], () => undefined);
  w.str(true, '');
  if (v >= 15)
    w.uvarint(1).uvarint(1).uvarint(13).int32(-1).int64(-1).uvarint(0); // replica_state (tag 1)
  else w.uvarint(0);
  return Buffer.from(w.toBuffer());
}
function readFetch(v: number, b: Buffer) {
  const r = new Reader(b);
  tags(r, true);
  assert.equal(r.int32(), 0);
  const error = r.int16();
  const sessionId = r.int32();
  const topics = r.arr(true, (x) => {
    const t = {
      id: x.uuid(),
      partitions: x.arr(true, (y) => {
        const p = {
          partition: y.int32(),
          error: y.int16(),
          hw: y.int64n(),
          lso: y.int64n(),
          start: y.int64n(),
          aborted: y.narr(true, (z) => [z.int64(), z.int64(), z.skipTaggedFields()]),
          preferred: y.int32(),
          records: Buffer.from(y.byts(true)),
        };
        tags(y, true);
        return p;
      }),
    };
    tags(x, true);
    return t;
  });
  tags(r, true);
  done(r, `Fetch v${v}`);
  return { error, sessionId, topics };
}

/** Record values in a fetched record set (uncompressed batches as kafkajs sends them). */
function values(records: Buffer): string[] {
  const out: string[] = [];
  for (let pos = 0; pos + 61 <= records.length; pos += 12 + records.readInt32BE(pos + 8)) {
    const count = records.readInt32BE(pos + 57);
    const r = new Reader(records.subarray(pos + 61, pos + 12 + records.readInt32BE(pos + 8)));
    for (let i = 0; i < count; i++) {
      r.varint();
      r.int8();
      r.varlong();
      r.varint();
      const k = r.varint();
      if (k > 0) r.offset += k;
      const vl = r.varint();
      out.push(r.buf.toString('utf8', r.offset, r.offset + vl));
      r.offset += vl;
      const headers = r.varint();
      for (let h = 0; h < headers; h++) {
        r.offset += r.varint();
        r.offset += r.varint();
      }
    }
  }
  return out;
}

test('CreateTopics v0-7: v5+ answers partitions, replication factor and every config with its source (KIP-525), v7 the topic id; an error answers -1, -1, no configs, the zero id', async () => {
  const c = await RawConnection.open(broker.port);
  for (let v = 0; v <= 7; v++) {
    const name = `ct-v${v}`;
    const [created] = readCreate(v, await c.request(19, v, createBody(v, [{ name, partitions: 3, configs: [['retention.ms', '120000']] }]), v >= 5));
    assert.equal(created!.name, name);
    assert.equal(created!.error, 0, `v${v}`);
    if (v >= 1) assert.equal(created!.message, null);
    if (v >= 5) {
      assert.equal(created!.partitions, 3);
      assert.equal(created!.replication, 1);
      assert.deepEqual(created!.configs!.get('retention.ms'), { value: '120000', readOnly: false, source: 1, sensitive: false });
      assert.deepEqual(created!.configs!.get('cleanup.policy'), { value: 'delete', readOnly: false, source: 5, sensitive: false });
    }
    if (v >= 7) {
      assert.match(created!.id!, /^[0-9a-f]{32}$/);
      // The id is the topic's: Fetch v13 finds the topic by it.
      const fetched = readFetch(13, await c.request(1, 13, fetchBody(13, created!.id!, 2, 0), true));
      assert.deepEqual(
        fetched.topics.map((t) => [t.id, t.partitions[0]!.error]),
        [[created!.id, 0]],
      );
    }
    const [again] = readCreate(v, await c.request(19, v, createBody(v, [{ name, partitions: 3, configs: [] }]), v >= 5));
    assert.equal(again!.error, 36, 'TOPIC_ALREADY_EXISTS');
    if (v >= 5) assert.deepEqual([again!.partitions, again!.replication, again!.configs], [-1, -1, null]);
    if (v >= 7) assert.equal(again!.id, ZERO_ID);
    if (v >= 1) {
      const [checked] = readCreate(v, await c.request(19, v, createBody(v, [{ name: `${name}-dry`, partitions: 2, configs: [] }], true), v >= 5));
      assert.equal(checked!.error, 0, 'validate only');
      if (v >= 5) assert.equal(checked!.partitions, 2);
      const [bad] = readCreate(v, await c.request(19, v, createBody(v, [{ name: `${name}-bad`, partitions: 1, configs: [['segment.bytes', '1']] }]), v >= 5));
      assert.equal(bad!.error, 40);
      assert.match(bad!.message!, /segment\.bytes/);
    }
  }
  c.close();
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = await admin.listTopics();
  await admin.disconnect();
  for (let v = 0; v <= 7; v++) assert.ok(topics.includes(`ct-v${v}`));
  assert.ok(!topics.some((t) => t.endsWith('-dry') || t.endsWith('-bad')), 'nothing validated-only or refused was created');
});

test('DeleteTopics v0-6: by name, and v6 by topic id (name null: the name is answered); an unknown id UNKNOWN_TOPIC_ID, an unknown name UNKNOWN_TOPIC_OR_PARTITION with a message from v5', async () => {
  const c = await RawConnection.open(broker.port);
  for (let v = 0; v <= 6; v++) {
    const name = `dt-v${v}`;
    const [created] = readCreate(7, await c.request(19, 7, createBody(7, [{ name, partitions: 1, configs: [] }]), true));
    const f = v >= 4;
    const target = v >= 6 ? { name: null, id: created!.id } : { name };
    const [deleted] = readDelete(v, await c.request(20, v, deleteBody(v, [target]), f));
    assert.deepEqual(deleted, { name, id: v >= 6 ? created!.id : undefined, error: 0, message: v >= 5 ? null : undefined }, `v${v}`);
    const [missing] = readDelete(v, await c.request(20, v, deleteBody(v, [{ name }]), f));
    assert.equal(missing!.error, 3);
    if (v >= 5) assert.match(missing!.message!, /does not exist/);
    if (v >= 6) {
      const [unknownId] = readDelete(v, await c.request(20, v, deleteBody(v, [{ name: null, id: 'ab'.repeat(16) }]), f));
      assert.deepEqual([unknownId!.name, unknownId!.id, unknownId!.error], [null, 'ab'.repeat(16), 100]);
    }
  }
  c.close();
});

test('Fetch v13-17 address topics by id (tagged replica_state from v15, replica_directory_id at v17 skipped); an unknown id is UNKNOWN_TOPIC_ID', async () => {
  const kafka = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'by-id', numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: 'by-id',
    messages: [
      { partition: 1, value: 'one' },
      { partition: 1, value: 'two' },
    ],
  });
  await producer.disconnect();
  const c = await RawConnection.open(broker.port);
  const [created] = readCreate(7, await c.request(19, 7, createBody(7, [{ name: 'by-id', partitions: 1, configs: [] }]), true));
  assert.equal(created!.error, 36);
  // The id from Metadata v12 (topic_id after the name).
  const mw = new Writer()
    .arr(true, [null], (x) => x.uuid(null).str(true, 'by-id').uvarint(0))
    .bool(false)
    .bool(false)
    .uvarint(0);
  const mr = new Reader(await c.request(3, 12, Buffer.from(mw.toBuffer()), true));
  mr.skipTaggedFields();
  mr.int32();
  mr.arr(true, (x) => [x.int32(), x.str(true), x.int32(), x.nstr(true), x.skipTaggedFields()]);
  mr.nstr(true);
  mr.int32();
  let id: string | null = null;
  mr.arr(true, (x) => {
    x.int16();
    x.nstr(true);
    id = x.uuid();
    return null;
  });
  assert.ok(id);
  for (let v = 13; v <= 17; v++) {
    const got = readFetch(v, await c.request(1, v, fetchBody(v, id, 1, 0), true));
    assert.equal(got.error, 0);
    assert.equal(got.sessionId, 0);
    assert.equal(got.topics.length, 1);
    assert.equal(got.topics[0]!.id, id);
    const p = got.topics[0]!.partitions[0]!;
    assert.deepEqual([p.partition, p.error, p.hw, p.start, p.preferred], [1, 0, 2, 0, -1]);
    assert.deepEqual(values(p.records), ['one', 'two'], `v${v}`);
    const unknown = readFetch(v, await c.request(1, v, fetchBody(v, 'cd'.repeat(16), 0, 0), true));
    assert.deepEqual(
      unknown.topics.map((t) => [t.id, t.partitions[0]!.error]),
      [['cd'.repeat(16), 100]],
    );
  }
  c.close();
});

test('generated malformed CreateTopics 0-7, DeleteTopics 0-6 and Fetch 13-17 frames (cut short anywhere) close only their connection', async () => {
  const bystander = await RawConnection.open(broker.port);
  const bodies: [number, number, Buffer, boolean][] = [];
  for (let v = 0; v <= 7; v++) bodies.push([19, v, createBody(v, [{ name: 'fz-topic', partitions: 1, configs: [['retention.ms', '1000']] }]), v >= 5]);
  for (let v = 0; v <= 6; v++) bodies.push([20, v, deleteBody(v, [{ name: 'fz-topic', id: null }]), v >= 4]);
  for (let v = 13; v <= 17; v++) bodies.push([1, v, fetchBody(v, 'ef'.repeat(16), 0, 0), true]);
  let cases = 0;
  for (const [key, v, full, f] of bodies) {
    // Every third prefix and the longest one: each is missing a field, a length or a tag count.
    const cuts = new Set([full.length - 1]);
    for (let n = 0; n < full.length; n += 3) cuts.add(n);
    for (const n of cuts) {
      cases++;
      assert.equal(await exchange(broker.port, frame(key, v, 9, full.subarray(0, n), f)), 'closed', `api ${key} v${v} cut at ${n} of ${full.length}`);
    }
  }
  assert.ok(cases > 150, `${cases} cases`);
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  assert.ok(!(await admin.listTopics()).includes('fz-topic'), 'no cut-short CreateTopics created anything');
  await admin.disconnect();
  assert.equal(new Reader(await bystander.request(18, 0, Buffer.alloc(0))).int16(), 0, 'the connection open all along is still served');
  bystander.close();
});
