import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { Kafka, logLevel } from '@jwt-audit/kafka';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { alertCodec, newId, readSchemaFile, type Alert, type Severity } from '@jwt-audit/events';
import { alertToEcsDocument } from '@jwt-audit/ecs';
import { formatAlert, matches, tailAlerts } from './alerts-tail.js';
import { register } from './commands/alerts.js';

let broker: Awaited<ReturnType<typeof startBroker>>;
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-alerts-'));
  broker = await startBroker({ dir, port: 0 });
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const example = readSchemaFile('examples/alert.json') as Alert;
const alert = (rule: string, severity: Severity): Alert => ({ ...example, id: newId(), rule, severity });

test('filters and the readable line', () => {
  const a = alert('token-tampering', 'high');
  assert.equal(matches(a, { severity: 'high' }), true);
  assert.equal(matches(a, { severity: 'critical' }), false);
  assert.equal(matches(a, { rules: ['impossible-travel'] }), false);
  const line = formatAlert({ ...a, suppressed: 3, count: 4 });
  assert.match(line, /HIGH\s+token-tampering\s+subject=alice@example.com ip=198.51.100.7 clientId=web-portal familyId=fam-5d1e count=4 \(\+3 suppressed\)/);
});

test('tail --from-beginning --severity high --rule: prints matching alerts from the topic, JSON or text, skips garbage', async () => {
  const topic = `alerts.${newId()}`;
  const kafka = new Kafka({ clientId: 't', brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const sent = [
    alert('token-tampering', 'low'),
    alert('token-tampering', 'high'),
    alert('impossible-travel', 'critical'),
    alert('token-tampering', 'critical'),
  ];
  await producer.send({
    topic,
    messages: [
      ...sent.slice(0, 2).map((a) => ({ value: alertCodec.encode(a).value, headers: alertCodec.encode(a).headers })),
      { value: Buffer.from('garbage') },
      ...sent.slice(2).map((a) => ({ value: alertCodec.encode(a).value, headers: alertCodec.encode(a).headers })),
    ],
  });
  await producer.disconnect();

  const out: string[] = [];
  const err: string[] = [];
  const n = await tailAlerts(
    {
      kafka: { brokers: [broker.address], clientId: 'audit-cli' },
      topic,
      severity: 'high',
      rules: ['token-tampering'],
      json: true,
      fromBeginning: true,
      max: 2,
    },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  assert.equal(n, 2);
  // the indexer's document (what `audit search --alerts --json` prints): ECS names, ISO times
  const docs = out.map(
    (l) =>
      JSON.parse(l) as {
        '@timestamp': string;
        event: { id: string; kind: string; start: string; end: string };
        rule: { name: string };
        jwt_audit: { alert: { severity: string } };
      },
  );
  assert.deepEqual(
    docs.map((d) => d.event.id),
    [sent[1]!.id, sent[3]!.id],
  );
  assert.deepEqual(docs[0], JSON.parse(JSON.stringify(alertToEcsDocument(sent[1]!))));
  assert.equal(docs[0]!.event.kind, 'alert');
  assert.equal(docs[0]!.rule.name, 'token-tampering');
  assert.equal(docs[0]!.jwt_audit.alert.severity, 'high');
  for (const t of [docs[0]!['@timestamp'], docs[0]!.event.start, docs[0]!.event.end]) assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(err.length, 1);
  assert.match(err[0]!, /undecodable/);
});

test('command line: bad --severity is a usage error; unreachable brokers exit with EXIT.unavailable', async () => {
  const program = new Command('audit').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  register(program);
  await assert.rejects(
    program.parseAsync(['node', 'audit', 'alerts', 'tail', '--severity', 'urgent']),
    (e: { exitCode?: number; code?: string }) => e.code === 'commander.invalidArgument',
  );
  await assert.rejects(program.parseAsync(['node', 'audit', 'alerts', 'tail', '--brokers', 'not a broker']), (e: { exitCode?: number }) => e.exitCode === 2);
  await assert.rejects(
    program.parseAsync(['node', 'audit', 'alerts', 'tail', '--brokers', '127.0.0.1:1', '--max', '1']),
    (e: { exitCode?: number }) => e.exitCode === 3,
  );
});
