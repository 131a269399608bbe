/**
 * A transform stage's worker thread (see transform-pool.ts): decode -> transform -> encode for a
 * batch of records, off the thread that runs the Kafka client.
 *
 * workerData = { module: URL of a module exporting createTransform(data), data }
 * -> { ready: true } | { ready: false, message }           once, after createTransform
 * <- WireBatch     a batch (columnar; keys and values are spans of one buffer)
 * -> WireResults   one result per record, in order (values spans of one buffer, errors by index)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { eventCodec, partitionKey, type AuditEvent } from '@jwt-audit/events';
import { AuditError, toAuditError } from '@jwt-audit/runtime';
import type { InputRecord } from './record.js';
import { headerTable, pack, unpack, type OffloadedTransform, type WireBatch, type WireResults } from './transform-pool.js';

const port = parentPort!;
const spec = workerData as { module: string; data: unknown };

async function one(t: OffloadedTransform, record: InputRecord): Promise<{ event: AuditEvent } | { error: { code: string; message: string; retriable: boolean } }> {
  try {
    if (record.value === null) throw new AuditError('AUDIT_ERR_EMPTY_RECORD', 'record has no value');
    const event = eventCodec.decode(record.value, record.headers);
    const returned = t.transform(event, record);
    return { event: typeof (returned as Promise<AuditEvent>).then === 'function' ? await returned : (returned as AuditEvent) };
  } catch (err) {
    const e = toAuditError(err, 'AUDIT_ERR_TRANSFORM');
    return { error: { code: e.code, message: e.message, retriable: e.retriable } };
  }
}

async function handle(t: OffloadedTransform, m: WireBatch): Promise<WireResults> {
  const n = m.offsets.length;
  const values: Array<Buffer | null> = [];
  const keys: Array<string | null> = [];
  const headers: Array<Record<string, string>> = [];
  const notes: unknown[] = [];
  const errors: WireResults['errors'] = {};
  const none: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const record: InputRecord = { topic: m.topic, partition: m.partition, offset: m.offsets[i]!, timestamp: m.timestamps[i]!, key: unpack(m.blob, m.spans, 2 * i), value: unpack(m.blob, m.spans, 2 * i + 1), headers: m.headerSets[m.headerIndex[i]!]! };
    const done = await one(t, record);
    let encoded: { value: Buffer; headers: Record<string, string> } | undefined;
    if ('event' in done) {
      try {
        encoded = eventCodec.encode(done.event);
        keys.push(partitionKey(done.event));
        notes.push(t.notes?.(done.event));
      } catch (err) {
        const e = toAuditError(err, 'AUDIT_ERR_TRANSFORM');
        errors[i] = { code: e.code, message: e.message, retriable: e.retriable };
      }
    } else errors[i] = done.error;
    if (!encoded) {
      keys.push(null);
      notes.push(undefined);
    }
    values.push(encoded?.value ?? null);
    headers.push(encoded?.headers ?? none);
  }
  const { blob, spans } = pack(values);
  const { headerSets, headerIndex } = headerTable(headers);
  return { id: m.id, blob, spans, keys, headerSets, headerIndex, notes, errors };
}

try {
  const mod = (await import(spec.module)) as { createTransform(data: unknown): OffloadedTransform | Promise<OffloadedTransform> };
  const transform = await mod.createTransform(spec.data);
  port.on('message', (m: WireBatch) => {
    void handle(transform, m).then((r) => port.postMessage(r, [r.blob.buffer as ArrayBuffer, r.spans.buffer as ArrayBuffer, r.headerIndex.buffer as ArrayBuffer]));
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, message: toAuditError(err).message });
}
