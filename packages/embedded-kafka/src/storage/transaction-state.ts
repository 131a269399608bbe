/**
 * Transaction state, in two halves, as Kafka keeps it:
 *
 * 1. Per partition (PartitionTxns), derived from the log itself, so it survives a restart with no
 *    file of its own: every index entry carries flags (partition-log.ts, bytes 38-39 of an entry:
 *    bit 0 transactional batch, bit 1 control batch, bit 2 the control batch is an abort marker).
 *    Replaying the entries gives the open transactions (producer id -> first offset: Kafka's
 *    ProducerStateManager "ongoing transactions"), the aborted ones (producer id, first offset,
 *    marker offset: Kafka's .txnindex) and the last stable offset (the first offset of the oldest
 *    open transaction, else the log end).
 *
 * 2. Per transactional id (TransactionLog), the coordinator's state (Kafka's __transaction_state
 *    topic), in `<dir>/transactions.json`, replaced atomically on every transition:
 *      { "<transactional id>": { producerId, producerEpoch, timeoutMs, state, startedAt,
 *          partitions: ["topic\u0000partition", ...], groups: ["group", ...],
 *          offsets: { group: { "topic\u0000partition": { offset, leaderEpoch, metadata } } } } }
 *    A transaction is written PrepareCommit / PrepareAbort before its markers are written and
 *    CompleteCommit / CompleteAbort after (TransactionStateManager), so a crash between the two is
 *    finished at the next start: markers go to the partitions where the producer is still open.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJson, writeFileAtomic } from './durable-file.js';

export const TXN_FLAG = 1;
export const CONTROL_FLAG = 2;
export const ABORT_FLAG = 4;

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  /** Offset of the abort marker. */
  lastOffset: number;
}

/** One partition's open and aborted transactions, fed every batch in offset order. */
export class PartitionTxns {
  /** Producer id -> first offset of its open transaction. */
  readonly ongoing = new Map<number, number>();
  readonly aborted: AbortedTxn[] = [];

  track(producerId: number, offset: number, flags: number): void {
    if (producerId < 0 || (flags & (TXN_FLAG | CONTROL_FLAG)) === 0) return;
    if ((flags & CONTROL_FLAG) !== 0) {
      const first = this.ongoing.get(producerId);
      this.ongoing.delete(producerId);
      if ((flags & ABORT_FLAG) !== 0 && first !== undefined) this.aborted.push({ producerId, firstOffset: first, lastOffset: offset });
      return;
    }
    if (!this.ongoing.has(producerId)) this.ongoing.set(producerId, offset);
  }

  /** Kafka's last stable offset: below it every transaction is decided. */
  lastStableOffset(logEnd: number): number {
    let lso = logEnd;
    for (const first of this.ongoing.values()) lso = Math.min(lso, first);
    return lso;
  }

  /**
   * Aborted transactions overlapping [from, to] (Kafka's LocalLog.collectAbortedTransactions),
   * ordered by first offset. Kafka lists them in marker order and lets the client sort; kafkajs
   * 2.2.4 (filterAbortedMessages) walks the list in order and starts one aborted transaction per
   * record whose offset reaches the head's first offset, so it needs them by first offset.
   */
  abortedIn(from: number, to: number): AbortedTxn[] {
    return this.aborted.filter((a) => a.lastOffset >= from && a.firstOffset <= to).sort((x, y) => x.firstOffset - y.firstOffset);
  }

  /** Retention moved the log start: aborted transactions wholly before it are forgotten. */
  forgetBefore(start: number): void {
    let i = 0;
    while (i < this.aborted.length && this.aborted[i]!.lastOffset < start) i++;
    if (i > 0) this.aborted.splice(0, i);
  }
}

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort';

export interface PendingOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

export interface TxnMetadata {
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** When the transaction became Ongoing (ms since epoch); -1 when none is. */
  startedAt: number;
  /** "topic\0partition" keys. */
  partitions: string[];
  groups: string[];
  offsets: Record<string, Record<string, PendingOffset>>;
}

export const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
export const splitPartitionKey = (k: string) => {
  const i = k.lastIndexOf('\u0000');
  return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) };
};

/** The coordinator's state file: every transactional id's metadata. */
export class TransactionLog {
  readonly txns = new Map<string, TxnMetadata>();
  private readonly file: string;

  constructor(
    dir: string,
    private readonly fsync: boolean,
  ) {
    this.file = path.join(dir, 'transactions.json');
    fs.mkdirSync(dir, { recursive: true });
    for (const [id, m] of Object.entries(readJson<Record<string, TxnMetadata>>(this.file, {}))) this.txns.set(id, m);
  }

  persist(): void {
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.txns)), this.fsync);
  }
}
