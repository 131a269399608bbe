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
import { toAuditError } from '@jwt-audit/runtime';
import type { InputRecord } from './record.js';
import { KAFKA_ERRORS } from './errors.js';
import { headerTable, pack, unpack, type OffloadedTransform, type WireBatch, type WireResults } from './transform-pool.js';
import { isPromise, transformRecord } from './transform-record.js';

const port = parentPort!;
const spec = workerData as { module: string; data: unknown };

async function handle(t: OffloadedTransform, m: WireBatch): Promise<WireResults> {
  const n = m.offsets.length;
  const values: Array<Buffer | null> = [];
  const keys: Array<string | null> = [];
  const headers: Array<Record<string, string>> = [];
  const notes: unknown[] = [];
  const errors: WireResults['errors'] = {};
  const none: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const record: InputRecord = {
      topic: m.topic,
      partition: m.partition,
      offset: m.offsets[i]!,
      timestamp: m.timestamps[i]!,
      key: unpack(m.blob, m.spans, 2 * i),
      value: unpack(m.blob, m.spans, 2 * i + 1),
      headers: m.headerSets[m.headerIndex[i]!]!,
    };
    const pending = transformRecord(t.transform, record);
    let r = isPromise(pending) ? await pending : pending;
    let note: unknown;
    if (r.ok) {
      try {
        note = t.notes?.(r.event);
      } catch (err) {
        r = { ok: false, error: toAuditError(err, KAFKA_ERRORS.AUDIT_ERR_TRANSFORM) };
      }
    }
    if (r.ok) {
      values.push(r.value);
      keys.push(r.key);
      headers.push(r.headers);
      notes.push(note);
    } else {
      errors[i] = { code: r.error.code, message: r.error.message, retriable: r.error.retriable };
      values.push(null);
      keys.push(null);
      headers.push(none);
      notes.push(undefined);
    }
  }
  const { blob, spans } = pack(values);
  const { headerSets, headerIndex } = headerTable(headers);
  return { id: m.id, blob, spans, keys, headerSets, headerIndex, notes, errors };
}

try {
  const mod = (await import(spec.module)) as { createTransform(data: unknown): OffloadedTransform | Promise<OffloadedTransform> };
  const transform = await mod.createTransform(spec.data);
  port.on('message', (m: WireBatch) => {
    void handle(transform, m).then((r) =>
      port.postMessage(r, [r.blob.buffer as ArrayBuffer, r.spans.buffer as ArrayBuffer, r.headerIndex.buffer as ArrayBuffer]),
    );
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, message: toAuditError(err).message });
}
