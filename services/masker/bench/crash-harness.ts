/**
 * Duplicates per crash (issue #27 item 2): N uniquely identified events produced to audit.raw.v1
 * at a steady rate (`rate`/s, in batches of a tenth of it every 100 ms, as the runs did at a
 * few hundred per second), the masker in a process of its own (masker-child.ts) killed with
 * SIGKILL `kills` times while it works (each time once another 1/(kills+1) of the events has been
 * produced and the group has committed something since the last start, after a further seeded
 * random 0-3 s, longer than a batch takes here, so the kill lands anywhere in one), restarted at once with the same
 * transactional id. Then every record of audit.masked.v1 is read,
 * read_committed (what the enricher and every consumer sees) and read_uncommitted (what was
 * written), and counted per event id. Shared by bench/duplicates-per-crash.ts and
 * test/faults/stage-kill-exactly-once.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { eventCodec, newId, partitionKey, TOPICS } from '@jwt-audit/events';
import type { Kafka } from '@jwt-audit/kafka';
import { rawEvent, startBench, until } from '../../../scripts/lib/stage-bench.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const GROUP = 'crash-masker';

export interface CrashResult {
  mode: 'at-least-once' | 'transactional';
  events: number;
  /** Kills made while the load ran (asked for: `kills`; none is made once the load is over). */
  kills: number;
  /** Records of audit.masked.v1 read_committed, and how many event ids they hold. */
  readCommitted: number;
  distinct: number;
  lost: number;
  duplicates: number;
  duplicatesPerCrash: number;
  /** Records written, aborted ones included (read_uncommitted). */
  written: number;
  /** Wall time from the first start to every input record committed. */
  seconds: number;
}

async function startChild(brokers: string[], exactlyOnce: boolean, txnId: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', path.join(here, 'masker-child.ts'), brokers.join(','), String(exactlyOnce), txnId],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the masker child did not start in 120 s')), 120_000);
    child.once('exit', (code) => reject(new Error(`the masker child exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function committed(kafka: Kafka): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [c] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPICS.raw] });
    return c!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Every record of `topic` up to its log end, counted per event id. */
async function readAll(kafka: Kafka, topic: string, readUncommitted: boolean): Promise<{ records: number; ids: Map<string, number> }> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `crash-reader-${newId()}`, maxWaitTimeInMs: 100, readUncommitted });
  const ids = new Map<string, number>();
  const reached = new Map<number, number>();
  let records = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        records++;
        const id = eventCodec.decode(m.value!, m.headers as never).id;
        ids.set(id, (ids.get(id) ?? 0) + 1);
      }
      reached.set(batch.partition, Number(batch.lastOffset()) + 1);
    },
  });
  // batch.lastOffset() counts the transaction markers too, so a partition ending in one is reached
  await until(() => [...ends].every(([p, end]) => end === 0 || (reached.get(p) ?? 0) >= end - 1), 300_000);
  await consumer.disconnect();
  return { records, ids };
}

export async function runCrashScenario(o: {
  exactlyOnce: boolean;
  events: number;
  kills: number;
  rate?: number;
  progress?: (s: string) => void;
}): Promise<CrashResult> {
  const say = o.progress ?? (() => undefined);
  const mode = o.exactlyOnce ? 'transactional' : 'at-least-once';
  const b = await startBench();
  let child: ChildProcess | undefined;
  try {
    const ids: string[] = [];
    const txnId = `crash-masker-${newId()}`;
    const t0 = Date.now();
    child = await startChild(b.brokers, o.exactlyOnce, txnId);
    const step = Math.max(1, Math.round((o.rate ?? 500) / 10));
    let loading = true;
    const load = (async () => {
      for (let i = 0; i < o.events; i += step) {
        const due = Date.now() + 100;
        const batch = Array.from({ length: Math.min(step, o.events - i) }, (_, j) => {
          const e = rawEvent(i + j);
          ids.push(e.id);
          return { key: partitionKey(e), ...eventCodec.encode(e) };
        });
        await b.producer.send(TOPICS.raw, batch);
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
      loading = false;
    })();
    let kills = 0;
    let seed = 0x2545f491;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let k = 1; k <= o.kills; k++) {
      const at = Math.floor((o.events * k) / (o.kills + 1));
      const before = await committed(b.kafka);
      await until(async () => !loading || (ids.length >= at && (await committed(b.kafka)) > before), 600_000);
      // a kill after the load is a kill of an idle stage: not what is measured
      if (!loading) break;
      await new Promise((r) => setTimeout(r, Math.floor(random() * 3_000)));
      await kill9(child);
      kills++;
      say(`${mode}: kill -9 #${k} with ${ids.length} produced, ${await committed(b.kafka)} committed`);
      child = await startChild(b.brokers, o.exactlyOnce, txnId);
    }
    await load;
    say(`${mode}: ${o.events} events produced`);
    await until(async () => (await committed(b.kafka)) >= o.events, 600_000);
    const seconds = (Date.now() - t0) / 1000;
    // stopped gracefully: its last transaction is committed, nothing open is left to read past
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    child = undefined;
    const rc = await readAll(b.kafka, TOPICS.masked, false);
    const ru = await readAll(b.kafka, TOPICS.masked, true);
    const lost = ids.filter((id) => !rc.ids.has(id)).length;
    const duplicates = rc.records - rc.ids.size;
    const result: CrashResult = {
      mode,
      events: o.events,
      kills,
      readCommitted: rc.records,
      distinct: rc.ids.size,
      lost,
      duplicates,
      duplicatesPerCrash: +(duplicates / Math.max(1, kills)).toFixed(1),
      written: ru.records,
      seconds: +seconds.toFixed(1),
    };
    say(`${mode}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    if (child) await kill9(child);
    await b.close();
  }
}
