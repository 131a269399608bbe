import type { Worker } from 'node:worker_threads';
import type { KafkaConfig, ProducerClient } from '@jwt-audit/kafka';
import { siblingModule, startWorker, type KafkaConnectionConfig, type Logger, type RetryPolicy } from '@jwt-audit/runtime';
import { headerTable, packBuffers, type OutRecord } from '@jwt-audit/kafka';
import type { RecordSink } from './publisher.js';
import { INTERCEPTOR_ERRORS } from './errors.js';

export interface ProducerThreadData {
  kafka: KafkaConnectionConfig;
  /** The producer's client (config queue.client). */
  client: ProducerClient;
  /** The client's own request retries and attempt timeout (the @platformatic/kafka producer's). */
  retry: RetryPolicy;
  /** kafkajs client settings (retry, timeouts) when the client is kafkajs: plain data only. */
  clientOverrides: Pick<KafkaConfig, 'retry' | 'connectionTimeout'>;
  loggerName: string;
  logLevel: string;
}

/** A batch to send: values packed in one transferred buffer, header sets as a table (packages/kafka). */
export interface SendBatch {
  topic: string;
  keys: Array<string | null>;
  blob: Uint8Array;
  spans: Int32Array;
  headerSets: Array<Record<string, string>>;
  headerIndex: Int32Array;
}
export type ThreadRequest = { id: number; op: 'connect' | 'disconnect' } | ({ id: number; op: 'send' } & SendBatch);
export type ThreadReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const WORKER_FILE = siblingModule(import.meta.url, 'producer-thread');
const NO_HEADERS: Record<string, string> = {};

/**
 * A RecordSink whose idempotent producer lives on its own thread (producer-thread.ts), so
 * kafkajs' per-record encoding never holds the proxy's event loop. The publisher, its queue, the
 * spool and the metrics stay on the main thread; only the connect / send / disconnect calls
 * cross, each answered once. A thread that dies fails its calls (the publisher spools them) and
 * is started again by the next call.
 */
export class ThreadSink implements RecordSink {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private connected: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly data: ProducerThreadData,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'thread-sink' });
  }

  connect(): Promise<void> {
    return (this.connected ??= this.call({ op: 'connect' }).catch((err: unknown) => {
      this.connected = undefined;
      throw err;
    }));
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = undefined;
    if (this.worker) await this.call({ op: 'disconnect' });
  }

  send(topic: string, records: OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const { blob, spans } = packBuffers(records.map((r) => r.value));
    const { headerSets, headerIndex } = headerTable(records.map((r) => r.headers ?? NO_HEADERS));
    const keys = records.map((r) => (r.key === null ? null : r.key.toString()));
    return this.call({ op: 'send', topic, keys, blob, spans, headerSets, headerIndex }, [
      blob.buffer as ArrayBuffer,
      spans.buffer as ArrayBuffer,
      headerIndex.buffer as ArrayBuffer,
    ]);
  }

  /** Disconnects and ends the thread. */
  async close(): Promise<void> {
    await this.disconnect().catch(() => {});
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private call(req: { op: 'connect' | 'disconnect' } | ({ op: 'send' } & SendBatch), transfer: ArrayBuffer[] = []): Promise<void> {
    const worker = (this.worker ??= this.spawn());
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...req } as ThreadRequest, transfer);
    });
  }

  private spawn(): Worker {
    const worker = startWorker(WORKER_FILE, this.data);
    worker.on('message', (m: ThreadReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve();
      else p.reject(INTERCEPTOR_ERRORS.AUDIT_ERR_PRODUCER_THREAD.create(m.message));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.connected = undefined;
      }
      const pending = [...this.pending.values()];
      this.pending.clear();
      for (const p of pending) p.reject(err);
    };
    worker.on('error', (err) => {
      this.log.error({ err: err.message }, 'producer thread failed; the next send starts a new one');
      fail(err);
    });
    worker.on('exit', (code) => fail(INTERCEPTOR_ERRORS.AUDIT_ERR_PRODUCER_THREAD.create(`producer thread exited (code ${code})`)));
    return worker;
  }
}
