/**
 * The Kafka producer's thread. The client encodes every record in JavaScript (varints, headers,
 * CRC-32C): about 25 µs a record with kafkajs, ~8 with @platformatic/kafka, and a batch of a few
 * hundred records held the proxy's event loop for milliseconds, which every request waiting behind
 * it paid in latency. On this thread the encoding runs beside the proxy instead of inside it.
 *
 * Protocol with ThreadSink (thread-sink.ts), one message per call, answered by id:
 *   { id, op: 'connect' | 'disconnect' }
 *   { id, op: 'send', ...SendBatch }  values packed in one transferred buffer, header sets as a table
 *   -> { id, ok: true } | { id, ok: false, message }
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createProducerClient, unpackBuffer } from '@jwt-audit/kafka';
import { createLogger, dependencyLog, toAuditError } from '@jwt-audit/runtime';
import type { ProducerThreadData, ThreadReply, ThreadRequest } from './thread-sink.js';

const data = workerData as ProducerThreadData;
const logger = createLogger({ name: data.loggerName, level: data.logLevel }).child({ component: 'producer-thread' });
// Quiet: every failed send comes back to the publisher on the main thread, which reports the outage
// (spooling) beside the main thread's kafka dependency state; this thread's lines would repeat it.
const kafkaState = dependencyLog(logger, 'kafka', { quiet: true });
const producer = createProducerClient(data.kafka, { client: data.client, logger, dependency: kafkaState, retry: data.retry, kafkajs: data.clientOverrides });
const port = parentPort!;

// Below the event loop in the scheduler's eyes (Linux: a thread's nice value is its own): when
// the proxy's requests and this thread's batches want the same core at once, requests go first;
// the producer still gets every idle cycle. Elsewhere (no /proc/thread-self) it stays as it is.
const PRODUCER_NICE = 5;
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), PRODUCER_NICE);
} catch {
  // not Linux, or not permitted: same priority as the event loop
}

async function handle(m: ThreadRequest): Promise<void> {
  if (m.op !== 'send') return m.op === 'connect' ? producer.connect() : producer.disconnect();
  await producer.send(
    m.topic,
    m.keys.map((key, i) => ({ key, value: unpackBuffer(m.blob, m.spans, i), headers: m.headerSets[m.headerIndex[i]!]! })),
  );
}

port.on('message', (m: ThreadRequest) => {
  handle(m).then(
    () => port.postMessage({ id: m.id, ok: true } satisfies ThreadReply),
    (err: unknown) => port.postMessage({ id: m.id, ok: false, message: toAuditError(err).message } satisfies ThreadReply),
  );
});
