import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { appendDurable, lockDirectory, writeFileAtomic } from '@jwt-audit/runtime';
import {
  applyChanges,
  createDetectorState,
  restoreState,
  snapshotState,
  type DetectorOptions,
  type DetectorState,
  type StateChanges,
} from '@jwt-audit/detection';

/**
 * Durable detector state for one input partition, in `<stateDir>/<topic>-<partition>/`:
 *
 *   snapshot.json   the whole state (detection snapshot format v1), replaced atomically (write + rename)
 *   journal.ndjson  one line per processed batch since the snapshot: the changed keys, the event-time
 *                   watermark and the last input offset applied (detection StateChanges, JSON)
 *
 * Restore = snapshot + every complete journal line (a torn last line from a crash is ignored: its
 * batch was not committed, so Kafka redelivers it). The journal is appended and fsync'ed before the
 * consumer commits the batch's offsets, so the state on disk is never behind the committed offset;
 * records at or below the stored offset are skipped on redelivery (their alerts were produced).
 * When the journal outgrows `snapshotAfterBytes` it is folded into a new snapshot.
 */
export class PartitionStateStore {
  private readonly dir: string;
  private readonly snapshotFile: string;
  private readonly journalFile: string;
  private journalBytes = 0;

  constructor(
    stateDir: string,
    name: string,
    private readonly options: { fsync: boolean; snapshotAfterBytes: number; detector: DetectorOptions },
  ) {
    this.dir = path.join(stateDir, name.replace(/[^a-zA-Z0-9._-]/g, '_'));
    this.snapshotFile = path.join(this.dir, 'snapshot.json');
    this.journalFile = path.join(this.dir, 'journal.ndjson');
  }

  load(): { state: DetectorState; journalLines: number } {
    mkdirSync(this.dir, { recursive: true });
    let state: DetectorState;
    try {
      state = restoreState(JSON.parse(readFileSync(this.snapshotFile, 'utf8')), this.options.detector);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      state = createDetectorState(this.options.detector);
    }
    let lines = 0;
    // a crash between writing a snapshot and removing the journal leaves lines the snapshot already covers
    const covered = state.offset === null ? null : BigInt(state.offset);
    try {
      const text = readFileSync(this.journalFile, 'utf8');
      this.journalBytes = Buffer.byteLength(text);
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let record: StateChanges;
        try {
          record = JSON.parse(line) as StateChanges;
        } catch {
          break; // torn tail
        }
        if (covered !== null && record.offset !== null && BigInt(record.offset) <= covered) continue;
        applyChanges(state, record);
        lines++;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.journalBytes = 0;
    }
    return { state, journalLines: lines };
  }

  append(changes: StateChanges): void {
    this.journalBytes += appendDurable(this.journalFile, `${JSON.stringify(changes)}\n`, this.options.fsync);
  }

  get needsSnapshot(): boolean {
    return this.journalBytes > this.options.snapshotAfterBytes;
  }

  /** Writes the state as the new snapshot and empties the journal (the snapshot covers it). */
  snapshot(state: DetectorState): void {
    writeFileAtomic(this.snapshotFile, JSON.stringify(snapshotState(state)), this.options.fsync);
    rmSync(this.journalFile, { force: true });
    this.journalBytes = 0;
  }

  sizeOnDisk(): number {
    const size = (f: string) => {
      try {
        return statSync(f).size;
      } catch {
        return 0;
      }
    };
    return size(this.snapshotFile) + size(this.journalFile);
  }
}

/** The lock on one partition's state folder (lockDirectory of @jwt-audit/runtime: O_EXCL, pid, stale takeover). */
export async function lockPartitionState(stateDir: string, name: string, staleMs = 60_000): Promise<() => void> {
  return lockDirectory(path.join(stateDir, name.replace(/[^a-zA-Z0-9._-]/g, '_')), staleMs);
}
