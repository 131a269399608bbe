import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { PYTHON, requireTools, run } from '../testdata/librdkafka-tools.js';
import { storedCodecs as storedCodecsOf } from '../testdata/wire.js';

// Conformance with a client nobody here wrote: librdkafka 2.0.2, through kcat and
// python3-confluent-kafka from Debian (.ci/run installs both). Each expectation is Kafka's
// documented behaviour (protocol guide, KIPs named below), checked on the wire by librdkafka.

const CLIENT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'testdata', 'rdkafka-client.py');

let broker: Broker;
let dir: string;
const kcat = (...args: string[]) => ['-b', broker.address, '-X', 'api.version.request=true', ...args];

before(async () => {
  requireTools();
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-rdkafka-'));
  broker = await startBroker({ dir, port: 0, initialRebalanceDelayMs: 0 });
});
after(async () => {
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function createTopic(topic: string, numPartitions = 1) {
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }] });
  await admin.disconnect();
}

const storedCodecs = (topic: string) => storedCodecsOf(broker.port, topic);

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

test('kcat produces with every codec and the broker stores the batches compressed as sent; kcat reads them back (Produce v3+ advertised from v0, Fetch up to v12: librdkafka enables compression and zstd)', async () => {
  for (const [id, codec] of CODECS.entries()) {
    const topic = `kcat-${codec}`;
    await createTopic(topic);
    const lines = Array.from({ length: 200 }, (_, i) => `key${i % 7}:${codec}-value-${i}-${'x'.repeat(i % 50)}`);
    const p = await run('kcat', kcat('-P', '-t', topic, '-z', codec, '-K', ':', '-X', 'linger.ms=50'), `${lines.join('\n')}\n`);
    assert.equal(p.code, 0, `kcat -P -z ${codec}: ${p.stderr}`);
    const codecs = await storedCodecs(topic);
    assert.ok(codecs.length > 0);
    // librdkafka sends a batch uncompressed when compressing would not make it smaller (a lone first record)
    assert.ok(codecs.includes(id), `${codec}: batches stored with codec ${id} (${codecs.join(',')})`);
    assert.ok(
      codecs.every((c) => c === id || c === 0),
      `${codec}: ${codecs.join(',')}`,
    );
    const c = await run('kcat', kcat('-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%k:%s\\n'));
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(c.stdout.trim().split('\n'), lines, `${codec}: every record back, in order`);
  }
});

test('kcat as an old client (api.version.request=false, broker.version.fallback 0.9.0 / 0.10.0: Produce v1 / v2 with message sets v0 / v1, Fetch v1 / v2): every codec it has is stored as record batches v2 of that codec and read back down-converted, keys, values and (v1) timestamps intact (Kafka 3.9 serves these deprecated versions: LogValidator, RecordsUtil.downConvert)', async () => {
  for (const [fallback, magic] of [
    ['0.9.0', 0],
    ['0.10.0', 1],
  ] as const) {
    const old = ['-b', broker.address, '-X', 'api.version.request=false', '-X', `broker.version.fallback=${fallback}`];
    for (const [id, codec] of CODECS.entries()) {
      if (codec === 'zstd') continue; // zstd needs Produce v7 (KIP-110)
      const topic = `kcat-old-${magic}-${codec}`;
      await createTopic(topic);
      const lines = Array.from({ length: 200 }, (_, i) => `key${i % 7}:${codec}-old-${i}-${'x'.repeat(i % 50)}`);
      const before = Date.now();
      const p = await run('kcat', [...old, '-P', '-t', topic, '-z', codec, '-K', ':', '-X', 'linger.ms=50'], `${lines.join('\n')}\n`);
      assert.equal(p.code, 0, `kcat ${fallback} -P -z ${codec}: ${p.stderr}`);
      const codecs = await storedCodecs(topic);
      assert.ok(codecs.includes(id), `${fallback} ${codec}: batches stored with codec ${id} (${codecs.join(',')})`);
      assert.ok(
        codecs.every((c) => c === id || c === 0),
        `${fallback} ${codec}: ${codecs.join(',')}`,
      );
      const c = await run('kcat', [...old, '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%k:%s|%T\\n']);
      assert.equal(c.code, 0, c.stderr);
      const got = c.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      assert.deepEqual(
        got.map(([r]) => r),
        lines,
        `${fallback} ${codec}: every record back, in order`,
      );
      for (const [, ts] of got) {
        if (magic === 0) assert.ok(Number(ts) <= 0, `message format v0 has no timestamp (${ts})`);
        else assert.ok(Number(ts) >= before - 1000 && Number(ts) <= Date.now(), `the producer's timestamp (${ts})`);
      }
    }
  }
});

test('python3-confluent-kafka (idempotent) produces with timestamps; offsets_for_times and kcat -o s@ts find the first *record* at or after the time, -1 past the end (ListOffsets, KIP-79)', async () => {
  const topic = 'rd-times';
  await createTopic(topic);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const input = Array.from({ length: 100 }, (_, i) => JSON.stringify({ key: `k${i}`, value: `v${i}`, timestamp: t0 + i * 1000 })).join('\n');
  const p = await run(PYTHON, [CLIENT, 'produce', broker.address, topic, 'lz4'], `${input}\n`);
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(JSON.parse(p.stdout), { delivered: 100, errors: [], undelivered: 0 });
  for (const i of [0, 1, 37, 50, 99]) {
    // timestamps between records too: the next record is the answer
    for (const skew of [0, -500]) {
      const r = await run(PYTHON, [CLIENT, 'offsets-for-times', broker.address, topic, String(t0 + i * 1000 + skew)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).offset, i, `t0 + ${i} s ${skew} ms`);
    }
  }
  const past = await run(PYTHON, [CLIENT, 'offsets-for-times', broker.address, topic, String(t0 + 200_000)]);
  assert.equal(JSON.parse(past.stdout).offset, -1, 'no record that new: -1');
  const k = await run('kcat', kcat('-C', '-t', topic, '-o', `s@${t0 + 42_000}`, '-e', '-f', '%o %T %s\\n'));
  assert.equal(k.code, 0, k.stderr);
  const first = k.stdout.trim().split('\n')[0]!.split(' ');
  assert.deepEqual(first, ['42', String(t0 + 42_000), 'v42']);
  const o = await run('kcat', kcat('-C', '-t', topic, '-o', '95', '-e', '-f', '%o\\n'));
  assert.equal(o.code, 0, o.stderr);
  assert.deepEqual(o.stdout.trim().split('\n').map(Number), [95, 96, 97, 98, 99], `kcat -o 95 printed ${JSON.stringify(o.stdout)}; stderr: ${o.stderr}`);
});

interface Member {
  lines: Record<string, unknown>[];
  done: Promise<void>;
  kill(): void;
}

function member(topic: string, group: string, assignor: string, stopFile: string, instance?: string): Member {
  const child = spawn(PYTHON, [CLIENT, 'group', broker.address, topic, group, assignor, stopFile, ...(instance ? [instance] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  return { lines, done: new Promise((resolve) => child.once('exit', () => resolve())), kill: () => child.kill('SIGKILL') };
}

const latest = (m: Member) => [...m.lines].reverse().find((l) => 'assignment' in l)?.assignment as number[] | undefined;
const consumed = (m: Member) => m.lines.filter((l) => 'value' in l).map((l) => l.value as string);

async function until(what: () => boolean, message: () => string, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    assert.ok(Date.now() < end, message());
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function produceValues(topic: string, values: string[]): Promise<void> {
  const producer = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
  await producer.disconnect();
}

for (const assignor of ['range', 'cooperative-sticky']) {
  test(`a librdkafka group of two (${assignor}) splits 6 partitions and consumes every record once, committing as it goes (classic group protocol, KIP-429 for cooperative)`, async () => {
    const topic = `rd-group-${assignor}`;
    await createTopic(topic, 6);
    const stop = path.join(dir, `stop-${assignor}`);
    const a = member(topic, `g-${assignor}`, assignor, stop);
    const b = member(topic, `g-${assignor}`, assignor, stop);
    const latest = (m: Member) => [...m.lines].reverse().find((l) => 'assignment' in l)?.assignment as number[] | undefined;
    const end = Date.now() + 45_000;
    while (!(latest(a)?.length && latest(b)?.length && latest(a)!.length + latest(b)!.length === 6)) {
      assert.ok(Date.now() < end, `no stable two-member assignment: ${JSON.stringify(latest(a))} / ${JSON.stringify(latest(b))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const owned = new Map([
      [a, latest(a)!],
      [b, latest(b)!],
    ]);
    assert.deepEqual([...owned.get(a)!, ...owned.get(b)!].sort(), [0, 1, 2, 3, 4, 5]);
    const producer = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 120 }, (_, i) => ({ key: `s${i}`, value: `r${i}` })) });
    await producer.disconnect();
    const records = () => [...a.lines, ...b.lines].filter((l) => 'value' in l);
    while (records().length < 120) {
      assert.ok(Date.now() < end, `${records().length} of 120 consumed`);
      await new Promise((r) => setTimeout(r, 50));
    }
    writeFileSync(stop, '');
    await Promise.all([a.done, b.done]);
    const values = records().map((r) => r.value as string);
    assert.equal(new Set(values).size, 120, 'every record');
    assert.equal(values.length, 120, 'none twice');
    for (const m of [a, b])
      for (const r of m.lines.filter((l) => 'value' in l)) assert.ok(owned.get(m)!.includes(r.partition as number), 'each member read only its own partitions');
    const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const committed = (await admin.fetchOffsets({ groupId: `g-${assignor}`, topics: [topic] }))[0]!.partitions;
    const high = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    for (const p of committed) assert.equal(p.offset, high.find((h) => h.partition === p.partition)!.high, `partition ${p.partition} committed to its end`);
  });
}

test('a librdkafka member killed with -9 is removed at its session timeout (6 s) and the survivor takes every partition; AdminClient.list_groups (ListGroups, DescribeGroups) sees the Stable group of two first', async () => {
  const topic = 'rd-killed';
  await createTopic(topic, 6);
  const stop = path.join(dir, 'stop-killed');
  const a = member(topic, 'g-killed', 'range', stop);
  const b = member(topic, 'g-killed', 'range', stop);
  await until(
    () => !!latest(a)?.length && !!latest(b)?.length && latest(a)!.length + latest(b)!.length === 6,
    () => `no two-member assignment: ${JSON.stringify(latest(a))} / ${JSON.stringify(latest(b))}`,
  );
  const listed = await run(PYTHON, [CLIENT, 'list-groups', broker.address]);
  assert.equal(listed.code, 0, listed.stderr);
  const g = (
    JSON.parse(listed.stdout) as {
      groups: { id: string; state: string; protocol_type: string; protocol: string; error: string | null; members: { assignment: number }[] }[];
    }
  ).groups.find((x) => x.id === 'g-killed');
  assert.ok(g, listed.stdout);
  assert.deepEqual(
    { state: g.state, protocol_type: g.protocol_type, protocol: g.protocol, error: g.error, members: g.members.length },
    { state: 'Stable', protocol_type: 'consumer', protocol: 'range', error: null, members: 2 },
  );
  for (const m of g.members) assert.ok(m.assignment > 0, 'each member has its assignment (Stable)');
  a.kill();
  await a.done;
  await until(
    () => latest(b)?.length === 6,
    () => `survivor has ${JSON.stringify(latest(b))}`,
  );
  const values = Array.from({ length: 60 }, (_, i) => `after-kill-${i}`);
  await produceValues(topic, values);
  await until(
    () => values.every((v) => consumed(b).includes(v)),
    () => `${consumed(b).length} consumed by the survivor`,
  );
  writeFileSync(stop, '');
  await b.done;
});

test('a librdkafka static member (group.instance.id, KIP-345) killed and restarted with the same instance id gets its partitions back and goes on from the committed offsets', async () => {
  const topic = 'rd-static';
  await createTopic(topic, 3);
  const stop = path.join(dir, 'stop-static');
  const first = member(topic, 'g-static', 'range', stop, 'rd-instance-1');
  await until(
    () => latest(first)?.length === 3,
    () => `assignment ${JSON.stringify(latest(first))}`,
  );
  const before = Array.from({ length: 30 }, (_, i) => `before-${i}`);
  await produceValues(topic, before);
  await until(
    () => before.every((v) => consumed(first).includes(v)),
    () => `${consumed(first).length} of 30 before the kill`,
  );
  first.kill();
  await first.done;
  // Restarted within the session timeout: it replaces its old member id (which is then fenced).
  const second = member(topic, 'g-static', 'range', stop, 'rd-instance-1');
  await until(
    () => latest(second)?.length === 3,
    () => `restarted assignment ${JSON.stringify(latest(second))}`,
  );
  const after = Array.from({ length: 30 }, (_, i) => `after-${i}`);
  await produceValues(topic, after);
  await until(
    () => after.every((v) => consumed(second).includes(v)),
    () => `${consumed(second).length} after the restart`,
  );
  assert.deepEqual(
    consumed(second).filter((v) => v.startsWith('before-')),
    [],
    'nothing committed is read again',
  );
  writeFileSync(stop, '');
  await second.done;
});
