import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Files of a stateful consumer's durable state (the anomaly detector's and the sessionizer's
 * snapshot + journal per partition): a whole file replaced atomically, a journal line appended,
 * and a lock on the state folder shared by the instances of a group.
 */

/** Writes `file` whole or not at all (write to `<file>.tmp`, optional fsync, rename). */
export function writeFileAtomic(file: string, data: string, fsync: boolean): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Appends bytes (a journal line) and fsyncs them when asked; returns how many were written. */
export function appendDurable(file: string, data: string, fsync: boolean): number {
  const bytes = Buffer.from(data);
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, bytes);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return bytes.length;
}

/**
 * An exclusive lock on a state folder (a lock file created with O_EXCL holding the owner's pid),
 * held from reading the state to appending a batch's journal line. During a rebalance the previous
 * owner may still be finishing a batch when the new owner reads the state: the lock makes the
 * reader wait. A lock whose owner process is gone, or older than `staleMs`, is taken over. Within
 * one process it is a mutex too (the holder's pid is ours, never stale).
 */
export async function lockDirectory(dir: string, staleMs = 60_000): Promise<() => void> {
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
