import type { Worker } from 'node:worker_threads';
import type { AuditEvent } from '@jwt-audit/events';
import { AuditError, siblingModule, startWorker, type Logger } from '@jwt-audit/runtime';
import { KAFKA_ERRORS } from './errors.js';
import type { InputRecord } from './record.js';
import type { Transform } from './transform-record.js';

/**
 * What a module run on a stage's worker threads exports as `createTransform(data)`: the same
 * pure transform the stage would run in-thread, built on the worker from plain `data` (functions
 * do not cross threads), and optionally `notes(out)`: plain data about each output that the main
 * thread's `onNotes` receives (the masker counts its rules with it).
 */
export interface OffloadedTransform {
  transform: Transform;
  notes?(out: AuditEvent): unknown;
}

export interface OffloadSpec {
  /** URL (href) of the module exporting createTransform(data). */
  module: string;
  /** Structured-cloneable input of createTransform (policies, keys). */
  data: unknown;
  /** Worker threads; batches of different partitions run on them in parallel. */
  threads: number;
}

/**
 * Batches cross the thread boundary columnar, because cloning hundreds of small objects per batch
 * cost more than the work it moved (measured): every key and value in one transferred buffer with
 * their [start, end) in `spans` (start -1: null), and headers as indexes into a table of the
 * distinct header sets (records of one topic nearly all carry the same few). kafkajs hands out
 * keys and values as views of its whole fetch response, and cloning a view copies the buffer under
 * it, so they are packed rather than sent as they are.
 */
export interface WireBatch {
  id: number;
  topic: string;
  partition: number;
  offsets: string[];
  timestamps: number[];
  blob: Uint8Array;
  /** per record: key start, key end, value start, value end */
  spans: Int32Array;
  headerSets: Array<Record<string, string>>;
  headerIndex: Int32Array;
}
export interface WireResults {
  id: number;
  blob: Uint8Array;
  /** per record: value start, value end ([-1, -1] for a failed record) */
  spans: Int32Array;
  keys: Array<string | null>;
  headerSets: Array<Record<string, string>>;
  headerIndex: Int32Array;
  notes: unknown[];
  /** failed records by index */
  errors: Record<number, { code: string; message: string; retriable: boolean }>;
}

/** Distinct header sets and each record's index into them. */
export function headerTable(all: Array<Record<string, string>>): { headerSets: Array<Record<string, string>>; headerIndex: Int32Array } {
  const headerSets: Array<Record<string, string>> = [];
  const seen = new Map<string, number>();
  const headerIndex = new Int32Array(all.length);
  let last: Record<string, string> | undefined;
  all.forEach((h, i) => {
    if (h === last) {
      headerIndex[i] = headerIndex[i - 1]!;
      return;
    }
    last = h;
    let k = '';
    for (const name in h) k += `${name}\u0000${h[name]}\u0000`;
    let at = seen.get(k);
    if (at === undefined) {
      at = headerSets.push(h) - 1;
      seen.set(k, at);
    }
    headerIndex[i] = at;
  });
  return { headerSets, headerIndex };
}

/** Packs buffers into one transferable Uint8Array; `spans` gets the [start, end) of each (-1 for null). */
export function pack(parts: Array<Uint8Array | null>): { blob: Uint8Array; spans: Int32Array } {
  let total = 0;
  for (const p of parts) if (p) total += p.length;
  const blob = new Uint8Array(total);
  const spans = new Int32Array(parts.length * 2);
  let at = 0;
  parts.forEach((p, i) => {
    if (!p) {
      spans[2 * i] = spans[2 * i + 1] = -1;
      return;
    }
    blob.set(p, at);
    spans[2 * i] = at;
    spans[2 * i + 1] = at += p.length;
  });
  return { blob, spans };
}

/** The Buffer the i-th span names in a blob that crossed threads (no copy), or null. */
export function unpack(blob: Uint8Array, spans: Int32Array, i: number): Buffer | null {
  const start = spans[2 * i]!;
  return start < 0 ? null : Buffer.from(blob.buffer, blob.byteOffset + start, spans[2 * i + 1]! - start);
}

/** Output records of one batch, in input order: encoded, or the error that sends the input to the DLQ. */
export type PoolResult = { ok: true; key: string | null; value: Buffer; headers: Record<string, string>; notes?: unknown } | { ok: false; error: AuditError };

const WORKER_FILE = siblingModule(import.meta.url, 'transform-worker');

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (r: WireResults) => void; reject: (e: Error) => void }>;
}

/**
 * Worker threads that decode, transform and encode batches for a transform stage, so the
 * CPU-bound part of a stage runs beside the Kafka client instead of between its fetches and
 * produces. Each batch goes to the least busy thread; results come back in record order. A
 * thread that dies fails its batches with a retriable error (the runner backs off and retries
 * them) and is replaced by the next batch.
 */
export class TransformPool {
  private readonly slots: Array<Slot | undefined>;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly spec: OffloadSpec,
    private readonly logger: Logger,
  ) {
    this.slots = Array.from({ length: Math.max(1, spec.threads) }, () => undefined);
  }

  /** Starts every thread and waits until each has built its transform; rejects naming why one could not. */
  async start(): Promise<void> {
    this.closed = false;
    await Promise.all(this.slots.map((_, i) => this.slot(i).ready));
  }

  async run(records: InputRecord[]): Promise<PoolResult[]> {
    if (this.closed) throw KAFKA_ERRORS.AUDIT_ERR_TRANSFORM_THREAD.create('transform threads are stopped');
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) if ((this.slots[i]?.pending.size ?? 0) < (this.slots[best]?.pending.size ?? 0)) best = i;
    const slot = this.slot(best);
    // a thread replaced mid-run that cannot start is retried like one that died: its batches must
    // not be dead-lettered for a fault that is not theirs
    await slot.ready.catch((err: Error) => {
      throw KAFKA_ERRORS.AUDIT_ERR_TRANSFORM_THREAD.wrap(err, err.message);
    });
    const { blob, spans } = pack(records.flatMap((r) => [r.key, r.value]));
    const { headerSets, headerIndex } = headerTable(
      records.map((r) => {
        const h: Record<string, string> = {};
        for (const k in r.headers) {
          const v = r.headers[k];
          if (v !== undefined) h[k] = v.toString();
        }
        return h;
      }),
    );
    const first = records[0];
    const batch: WireBatch = {
      id: this.nextId++,
      topic: first?.topic ?? '',
      partition: first?.partition ?? 0,
      offsets: records.map((r) => r.offset),
      timestamps: records.map((r) => r.timestamp),
      blob,
      spans,
      headerSets,
      headerIndex,
    };
    const reply = await new Promise<WireResults>((resolve, reject) => {
      slot.pending.set(batch.id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(batch, [blob.buffer as ArrayBuffer, spans.buffer as ArrayBuffer, headerIndex.buffer as ArrayBuffer]);
    });
    return records.map((_, i): PoolResult => {
      const e = reply.errors[i];
      if (e) return { ok: false, error: new AuditError(e.code, e.message, { retriable: e.retriable }) };
      return {
        ok: true,
        key: reply.keys[i]!,
        value: unpack(reply.blob, reply.spans, i)!,
        headers: reply.headerSets[reply.headerIndex[i]!]!,
        notes: reply.notes[i],
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.slots.filter((s): s is Slot => s !== undefined).map((s) => s.worker);
    this.slots.fill(undefined);
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private slot(i: number): Slot {
    const existing = this.slots[i];
    if (existing) return existing;
    const worker = startWorker(WORKER_FILE, { module: this.spec.module, data: this.spec.data }, { typescript: this.spec.module.endsWith('.ts') });
    const pending: Slot['pending'] = new Map();
    let onReady: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const ready = new Promise<void>((resolve, reject) => (onReady = { resolve, reject }));
    ready.catch(() => undefined); // observed by start() or run(); never an unhandled rejection here
    const slot: Slot = { worker, ready, pending };
    const fail = (err: Error) => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
      onReady?.reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    worker.on('message', (m: { ready?: boolean; message?: string } & Partial<WireResults>) => {
      if (m.ready === true) return onReady?.resolve();
      if (m.ready === false) {
        // the module or its data is wrong: not retriable, and every batch would fail the same way
        fail(KAFKA_ERRORS.AUDIT_ERR_TRANSFORM_THREAD.create(`transform thread could not start: ${m.message}`));
        void worker.terminate();
        return;
      }
      const p = pending.get(m.id!);
      if (!p) return;
      pending.delete(m.id!);
      if (pending.size === 0) worker.unref();
      p.resolve(m as WireResults);
    });
    worker.on('error', (err) => {
      this.logger.error({ err: err.message }, 'transform thread failed; its batches will be retried');
      fail(KAFKA_ERRORS.AUDIT_ERR_TRANSFORM_THREAD.wrap(err, `transform thread failed: ${err.message}`));
    });
    worker.on('exit', (code) => fail(KAFKA_ERRORS.AUDIT_ERR_TRANSFORM_THREAD.create(`transform thread exited (code ${code})`)));
    // Held (ref) only while it starts or has batches in flight: a stage abandoned without stop()
    // must not keep the process alive. Set after the listeners, since attaching one refs again.
    worker.ref();
    ready.then(
      () => {
        if (pending.size === 0) worker.unref();
      },
      () => undefined,
    );
    this.slots[i] = slot;
    return slot;
  }
}
