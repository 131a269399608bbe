import { stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { SpoolFile, SpoolFs } from '../spool.js';

export type SimOp = 'write' | 'datasync' | 'truncate' | 'freeBytes';

export function fsError(code: 'ENOSPC' | 'EIO', syscall: string): NodeJS.ErrnoException {
  const text = code === 'ENOSPC' ? 'no space left on device' : 'i/o error';
  return Object.assign(new Error(`${code}: ${text}, ${syscall}`), { code, errno: code === 'ENOSPC' ? -28 : -5, syscall });
}

/**
 * A small disk for the spool's tests: the real files, but a capacity shared by the spool's two
 * files. A write that grows them past it writes what fits (a short write, as write(2) does) and
 * the next one fails with ENOSPC; overwriting bytes already allocated needs no room (the cursor's
 * slots). freeBytes() is what statfs would say. `fault` can fail any operation on any file.
 */
export class SimDisk implements SpoolFs {
  /** what freeBytes() reports instead of the truth (a filesystem whose statfs lies, another writer) */
  reportFree: number | undefined;
  /** throw this error from this operation (return undefined to let it run) */
  fault: ((op: SimOp, file: SpoolFile) => NodeJS.ErrnoException | undefined) | undefined;
  calls: Record<SimOp, number> = { write: 0, datasync: 0, truncate: 0, freeBytes: 0 };
  private readonly sizes = new Map<SpoolFile, number>();

  constructor(
    public capacity: number,
    private readonly dir: string,
  ) {}

  async write(file: SpoolFile, fh: FileHandle, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.calls.write++;
    const f = this.fault?.('write', file);
    if (f) throw f;
    const cur = (await fh.stat()).size;
    this.sizes.set(file, cur);
    const grow = Math.max(0, position + length - cur);
    const room = this.capacity - this.used();
    let n = length;
    if (grow > room) {
      n = Math.min(length, cur + room - position);
      if (n <= 0) throw fsError('ENOSPC', 'write');
    }
    const { bytesWritten } = await fh.write(buf, offset, n, position);
    this.sizes.set(file, Math.max(cur, position + bytesWritten));
    return bytesWritten;
  }

  async datasync(file: SpoolFile, fh: FileHandle): Promise<void> {
    this.calls.datasync++;
    const f = this.fault?.('datasync', file);
    if (f) throw f;
    await fh.datasync();
  }

  async truncate(file: SpoolFile, fh: FileHandle, length: number): Promise<void> {
    this.calls.truncate++;
    const f = this.fault?.('truncate', file);
    if (f) throw f;
    await fh.truncate(length);
    this.sizes.set(file, length);
  }

  async freeBytes(): Promise<number> {
    this.calls.freeBytes++;
    const f = this.fault?.('freeBytes', 'events');
    if (f) throw f;
    for (const [file, name] of [
      ['events', 'events.spool'],
      ['cursor', 'events.cursor'],
    ] as const) {
      this.sizes.set(
        file,
        await stat(path.join(this.dir, name)).then(
          (s) => s.size,
          () => 0,
        ),
      );
    }
    return this.reportFree ?? Math.max(0, this.capacity - this.used());
  }

  used(): number {
    let n = 0;
    for (const v of this.sizes.values()) n += v;
    return n;
  }
}
