import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
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
 * instances may share the folder (a rebalance, a restart): `version()` tells an instance whether
 * someone else wrote since it last did, and it then reloads.
 */
export class SessionStateStore {
  private readonly snapshotFile: string;
  private readonly journalFile: string;
  private journalBytes = 0;

  constructor(readonly dir: string, private readonly options: { fsync: boolean; snapshotAfterBytes: number }) {
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
    const line = Buffer.from(`${JSON.stringify(changes)}\n`);
    const fd = openSync(this.journalFile, 'a');
    try {
      writeSync(fd, line);
      if (this.options.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.journalBytes += line.length;
  }

  get needsSnapshot(): boolean {
    return this.journalBytes > this.options.snapshotAfterBytes;
  }

  snapshot(state: SessionState): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.snapshotFile}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(snapshotOf(state)));
      if (this.options.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.snapshotFile);
    rmSync(this.journalFile, { force: true });
    this.journalBytes = 0;
  }
}

/**
 * An exclusive lock on one partition's folder (O_EXCL lock file holding the owner's pid), held from
 * reading the state to appending the journal line, so that two instances during a rebalance, or a
 * batch and the timer of one instance, never interleave. A lock of a dead process, or older than
 * `staleMs`, is taken over.
 */
export async function lockDir(dir: string, staleMs = 60_000): Promise<() => void> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'lock');
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let stale = false;
    try {
      const pid = Number(readFileSync(file, 'utf8'));
      if (Date.now() - statSync(file).mtimeMs > staleMs) stale = true;
      else if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
        } catch (e) {
          stale = (e as NodeJS.ErrnoException).code === 'ESRCH';
        }
      }
    } catch {
      continue; // released meanwhile
    }
    if (stale) rmSync(file, { force: true });
    else await new Promise((r) => setTimeout(r, 10));
  }
}
