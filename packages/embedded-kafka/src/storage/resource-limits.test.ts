import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';

// A broker process started under a low descriptor limit (ulimit -n), as production hits it.

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const bin = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'bin.ts');

async function startLimited(dir: string, nofile: number): Promise<{ address: string; pid: number }> {
  const child = spawn(
    'bash',
    ['-c', `ulimit -n ${nofile} && exec "${process.execPath}" --conditions=source --import tsx "${bin}" --dir "${dir}" --port 0 --log-level info`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const rec = JSON.parse(line) as { msg?: string; address?: string };
    if (rec.msg === 'embedded Kafka broker listening') return { address: rec.address!, pid: child.pid! };
  }
  throw new Error('broker exited before listening');
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

test('CreateTopics beyond the descriptor limit fails cleanly: nothing half-created, no descriptor leaked, the broker keeps serving', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ekafka-limit-'));
  dirs.push(dir);
  const { address, pid } = await startLimited(dir, 300);
  const kafka = new Kafka({ brokers: [address], clientId: 'limits', logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'warm', numPartitions: 1 }] });
  const before = fds(pid);

  await assert.rejects(admin.createTopics({ topics: [{ topic: 'wide', numPartitions: 600 }] }), (err: Error & { errors?: { type?: string }[] }) => {
    const text = `${err.message} ${JSON.stringify(err.errors ?? [])}`;
    assert.match(text, /"code":-1/, text); // UNKNOWN_SERVER_ERROR, with the errno in error_message
    return true;
  });
  assert.equal(fds(pid), before, 'every descriptor opened for the failed topic was closed');
  assert.deepEqual(
    readdirSync(path.join(dir, 'logs')).filter((d) => d.startsWith('wide-')),
    [],
    'no orphan partition directories',
  );
  assert.equal('wide' in JSON.parse(readFileSync(path.join(dir, 'topics.json'), 'utf8')), false);
  assert.deepEqual((await admin.listTopics()).sort(), ['warm']);

  // still serving new connections and topics
  await admin.createTopics({ topics: [{ topic: 'after', numPartitions: 10 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'after', messages: [{ key: 'k', value: 'still here' }] });
  await producer.disconnect();
  assert.equal(
    (await admin.fetchTopicOffsets('after')).reduce((n, p) => n + Number(p.high), 0),
    1,
  );

  // a partition rolled into hundreds of segments holds two descriptors, not two per segment
  await admin.createTopics({ topics: [{ topic: 'tiny-segments', numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: '100' }] }] });
  const withTopic = fds(pid);
  const p2 = kafka.producer();
  await p2.connect();
  for (let i = 0; i < 40; i++)
    await p2.send({ topic: 'tiny-segments', messages: Array.from({ length: 10 }, (_, j) => ({ value: `v${i}-${j}-${'x'.repeat(50)}` })) });
  await p2.disconnect();
  assert.ok(readdirSync(path.join(dir, 'logs', 'tiny-segments-0')).filter((f) => f.endsWith('.log')).length >= 40);
  assert.ok(fds(pid) <= withTopic + 2, `descriptors ${fds(pid)} after 40 segments (${withTopic} before)`);
  await admin.disconnect();
  assert.ok(existsSync(path.join(dir, 'logs', 'after-9')));
});
