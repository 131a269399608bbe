import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { appendDurable, writeFileAtomic } from '@jwt-audit/runtime';
import { applyChanges, createSessionState, restore, snapshotOf, type Changes, type SessionState } from './sessionize.js';

/**
 * Durable sessions of one partition number (the input and alert topics are keyed alike, so
 * partition N of both concerns the same subjects), in `<stateDir>/p<N>/`:
 *
 *   snapshot.json   every session kept, and the last applied offset per topic-partition (replaced atomically)
 *   journal.ndjson  one line per batch or timer tick since the snapshot: the sessions changed and
 *                   removed, and the offsets (sessionize.ts `Changes`, JSON)
 *
 * Restore = snapshot + every complete journal line (a torn last line is ignored: its batch was not
 * committed, Kafka redelivers it, and its derived events and summaries carry the same ids and
 * revisions again). The journal is fsync'ed before the consumer commits the batch. Several
 * instances may share the folder (a rebalance, a restart): each batch and tick holds the folder's
 * lock (lockDirectory of @jwt-audit/runtime), and `version()` tells an instance whether someone
 * else wrote since it last did, and it then reloads.
 */
export class SessionStateStore {
  private readonly snapshotFile: string;
  private readonly journalFile: string;
  private journalBytes = 0;

  constructor(
    readonly dir: string,
    private readonly options: { fsync: boolean; snapshotAfterBytes: number },
  ) {
    this.snapshotFile = path.join(dir, 'snapshot.json');
    this.journalFile = path.join(dir, 'journal.ndjson');
  }

  load(): { state: SessionState; journalLines: number } {
    mkdirSync(this.dir, { recursive: true });
    let state: SessionState;
    try {
      state = restore(JSON.parse(readFileSync(this.snapshotFile, 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      state = createSessionState();
    }
    let lines = 0;
    this.journalBytes = 0;
    try {
      const text = readFileSync(this.journalFile, 'utf8');
      this.journalBytes = Buffer.byteLength(text);
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let record: Changes;
        try {
          record = JSON.parse(line) as Changes;
        } catch {
          break; // torn tail
        }
        applyChanges(state, record);
        lines++;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return { state, journalLines: lines };
  }

  /** What is on disk now: changes when anyone appends or snapshots. */
  version(): string {
    const stat = (f: string) => {
      try {
        const s = statSync(f);
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    };
    return `${stat(this.snapshotFile)}/${stat(this.journalFile)}`;
  }

  append(changes: Changes): void {
    this.appendLine(`${JSON.stringify(changes)}\n`);
  }

  /** A journal line already serialised (`JSON.stringify(changes)` + newline). */
  appendLine(line: string): void {
    this.journalBytes += appendDurable(this.journalFile, line, this.options.fsync);
  }

  get needsSnapshot(): boolean {
    return this.journalBytes > this.options.snapshotAfterBytes;
  }

  snapshot(state: SessionState): void {
    writeFileAtomic(this.snapshotFile, JSON.stringify(snapshotOf(state)), this.options.fsync);
    rmSync(this.journalFile, { force: true });
    this.journalBytes = 0;
  }
}
