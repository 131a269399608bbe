import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, deadLetterRecord, ensureTopics, type InputRecord } from '@jwt-audit/kafka';
import { AuditError, createLogger } from '@jwt-audit/runtime';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin.ts');
const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let broker: Broker;
let dir: string;
let kafka: Kafka;

function audit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], {
      env: { ...process.env, AUDIT_KAFKA_BROKERS: broker.address },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const origin = (topic: string, offset: number, value: string): InputRecord => ({
  topic,
  partition: 0,
  offset: String(offset),
  key: Buffer.from(`sub:${offset}`),
  value: Buffer.from(value),
  headers: { 'audit-schema-fingerprint': `fp-${offset}` },
  timestamp: 1,
});

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-dlq-'));
  broker = await startBroker({ dir, port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, [
    { topic: TOPICS.dlq, numPartitions: 1 },
    { topic: 'origin.a', numPartitions: 1 },
    { topic: 'origin.b', numPartitions: 1 },
  ]);
  const p = createAuditProducer(kafka, { logger });
  await p.connect();
  const letters = [
    deadLetterRecord('masker', origin('origin.a', 10, 'raw-a-10'), new AuditError('AUDIT_ERR_UNDECODABLE', 'cannot decode: bad magic')),
    deadLetterRecord('masker', origin('origin.a', 11, 'raw-a-11'), new AuditError('AUDIT_ERR_TRANSFORM', 'masking policy refused it')),
    deadLetterRecord('indexer', origin('origin.b', 5, 'raw-b-5'), new AuditError('AUDIT_ERR_ES_MAPPING', 'mapper_parsing_exception')),
  ];
  // one kept as masked text by a masker with dlqPayload: masked
  const masked = deadLetterRecord('masker', origin('origin.a', 12, 'masked text'), new AuditError('AUDIT_ERR_UNDECODABLE', 'cannot decode'));
  await p.send(TOPICS.dlq, [...letters, { ...masked, headers: { ...masked.headers, 'audit-dlq-payload': 'masked' } }]);
  await p.send(TOPICS.dlq, [{ key: null, value: Buffer.from('not a dead letter') }]);
  await p.disconnect();
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

async function readTopic(topic: string): Promise<Array<{ key: string; value: string; headers: Record<string, string> }>> {
  const admin = kafka.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(topic))[0]!.high);
  await admin.disconnect();
  const got: Array<{ key: string; value: string; headers: Record<string, string> }> = [];
  if (high === 0) return got;
  const c = kafka.consumer({ groupId: `r-${Math.random()}`, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) =>
      void got.push({
        key: String(message.key),
        value: String(message.value),
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
      }),
  });
  for (const end = Date.now() + 20_000; got.length < high && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  await c.disconnect();
  return got;
}

test('audit dlq replay: dry run lists, filters select, the replay re-injects the original bytes; masked letters are reported, never re-injected', async () => {
  const dry = await audit(['dlq', 'replay', '--dry-run', '--json']);
  assert.equal(dry.code, 1, 'some matching letters are not replayable: exit 1');
  const report = JSON.parse(dry.stdout) as {
    read: number;
    matched: number;
    replayed: number;
    notReplayable: number;
    letters: Array<{ id: string; action: string; originTopic: string; why?: string }>;
  };
  assert.equal(report.read, 5);
  assert.equal(report.matched, 5);
  assert.equal(report.replayed, 0);
  assert.equal(report.notReplayable, 2, 'the masked letter and the record that is not a dead letter');
  assert.deepEqual(
    report.letters.map((l) => l.action),
    ['would_replay', 'would_replay', 'would_replay', 'not_replayable', 'not_replayable'],
  );
  assert.match(report.letters[3]!.why!, /masked/);
  assert.deepEqual(await readTopic('origin.a'), [], 'a dry run produces nothing');

  // filters: by topic, stage, code, reason, DLQ offsets; each alone selects what it names
  const matched = async (args: string[]) =>
    (JSON.parse((await audit(['dlq', 'replay', '--dry-run', '--json', ...args])).stdout) as { matched: number }).matched;
  assert.equal(await matched(['--topic', 'origin.b']), 1);
  assert.equal(await matched(['--stage', 'masker']), 3);
  assert.equal(await matched(['--code', 'AUDIT_ERR_UNDECODABLE']), 2);
  assert.equal(await matched(['--reason', 'POLICY']), 1);
  assert.equal(await matched(['--from-offset', '1', '--to-offset', '2']), 2);

  const replay = await audit(['dlq', 'replay', '--topic', 'origin.a', '--code', 'AUDIT_ERR_TRANSFORM']);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /masker\s+AUDIT_ERR_TRANSFORM\s+origin\.a\[0\]@11\s+replayed to origin\.a/);
  assert.match(replay.stderr, /1 of 5 dead letters matched; 1 replayed, 0 not replayable/);
  const out = await readTopic('origin.a');
  assert.equal(out.length, 1);
  assert.equal(out[0]!.value, 'raw-a-11', 'the original bytes');
  assert.equal(out[0]!.key, 'sub:11');
  assert.equal(out[0]!.headers['audit-schema-fingerprint'], 'fp-11', 'the original headers');
  assert.equal(out[0]!.headers['audit-replayed-from'], report.letters[1]!.id, 'the letter it came from');
});

test('audit dlq replay: usage errors exit 2 naming the option; an unreachable broker exits 3', async () => {
  for (const [args, re] of [
    [['--from-offset', '-1'], /--from-offset must be a non-negative integer/],
    [['--to-offset', 'x'], /--to-offset must be a non-negative integer/],
    [['--limit', '0'], /--limit must be a positive integer/],
    [['--from-offset', '5', '--to-offset', '2'], /--from-offset is after --to-offset/],
  ] as const) {
    const r = await audit(['dlq', 'replay', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
  const help = await audit(['dlq', 'replay', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--dry-run/);
  const down = await audit(['dlq', 'replay', '--brokers', '127.0.0.1:1']);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /cannot replay from audit\.dlq\.v1 on 127\.0\.0\.1:1/);
});
