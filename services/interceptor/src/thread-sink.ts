import type { Worker } from 'node:worker_threads';
import type { KafkaConfig } from 'kafkajs';
import { siblingModule, startWorker, type KafkaConnectionConfig, type Logger } from '@jwt-audit/runtime';
import type { OutRecord } from '@jwt-audit/kafka';
import type { RecordSink } from './publisher.js';
import { encodeRecord } from './spool.js';

export interface ProducerThreadData {
  kafka: KafkaConnectionConfig;
  /** kafkajs client settings (retry, timeouts): plain data only. */
  clientOverrides: Pick<KafkaConfig, 'retry' | 'connectionTimeout'>;
  loggerName: string;
  logLevel: string;
}

export type ThreadRequest = { id: number; op: 'connect' | 'disconnect' } | { id: number; op: 'send'; topic: string; frame: Uint8Array };
export type ThreadReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const WORKER_FILE = siblingModule(import.meta.url, 'producer-thread');

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

  constructor(private readonly data: ProducerThreadData, logger: Logger) {
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
    const parts = records.map((r) => encodeRecord({ topic, key: r.key === null ? null : String(r.key), value: r.value, headers: r.headers ?? {} }));
    // its own ArrayBuffer (not the shared pool a small Buffer.concat would use), so it can be transferred
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      frame.set(p, at);
      at += p.length;
    }
    return this.call({ op: 'send', topic, frame }, [frame.buffer]);
  }

  /** Disconnects and ends the thread. */
  async close(): Promise<void> {
    await this.disconnect().catch(() => {});
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private call(req: { op: 'connect' | 'disconnect' } | { op: 'send'; topic: string; frame: Uint8Array }, transfer: ArrayBuffer[] = []): Promise<void> {
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
      else p.reject(new Error(m.message));
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
    worker.on('exit', (code) => fail(new Error(`producer thread exited (code ${code})`)));
    return worker;
  }
}
