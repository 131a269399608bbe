/**
 * Where archive files live. Write-once by contract: `putExclusive` fails if the object exists, and
 * a stored object is never modified, only deleted by the retention task. The local backend uses
 * exclusive create, fsync of the file and its directory, and makes the file read-only. An S3
 * backend maps this onto PutObject with `If-None-Match: *` into a bucket with Object Lock
 * (compliance mode, retention = the archive's retention), ListObjectsV2 and DeleteObject after
 * the lock expires.
 */
import { promises as fs, constants } from 'node:fs';
import path from 'node:path';

export interface ArchiveStorage {
  putExclusive(key: string, data: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Keys under a prefix ("topic/partition/"), sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** Topic/partition prefixes present ("audit.enriched.v1/0/"). */
  streams(): Promise<string[]>;
}

export class StorageError extends Error {
  constructor(message: string, readonly code: 'exists' | 'not-found' | 'io') {
    super(message);
  }
}

export function localStorage(root: string): ArchiveStorage {
  const abs = (key: string) => {
    const p = path.resolve(root, key);
    if (!p.startsWith(path.resolve(root) + path.sep)) throw new StorageError(`key outside the archive: ${key}`, 'io');
    return p;
  };
  const fsyncDir = async (dir: string) => {
    const h = await fs.open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  };
  return {
    async putExclusive(key, data) {
      const file = abs(key);
      await fs.mkdir(path.dirname(file), { recursive: true });
      let h;
      try {
        h = await fs.open(file, 'wx', 0o444);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new StorageError(`${key} already exists`, 'exists');
        throw err;
      }
      try {
        await h.writeFile(data);
        await h.sync();
      } finally {
        await h.close();
      }
      await fsyncDir(path.dirname(file));
    },
    async get(key) {
      // One read of the whole file instead of fs.readFile's 512 KiB steps: each step needs this
      // thread to issue the next, and verify keeps it busy hashing while the next segment is read.
      let h;
      try {
        h = await fs.open(abs(key), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError(`${key} not found`, 'not-found');
        throw err;
      }
      try {
        const { size } = await h.stat();
        const buf = Buffer.allocUnsafe(size);
        let n = 0;
        while (n < size) {
          const { bytesRead } = await h.read(buf, n, size - n, n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        return n === size ? buf : buf.subarray(0, n);
      } finally {
        await h.close();
      }
    },
    async list(prefix) {
      try {
        return (await fs.readdir(abs(prefix))).filter((f) => !f.startsWith('.')).sort().map((f) => prefix + f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    async delete(key) {
      const file = abs(key);
      await fs.chmod(file, 0o644).catch(() => undefined);
      await fs.rm(file, { force: true });
      await fsyncDir(path.dirname(file));
    },
    async streams() {
      const out: string[] = [];
      const topics = await fs.readdir(root).catch(() => [] as string[]);
      for (const t of topics.sort()) {
        const parts = await fs.readdir(path.join(root, t)).catch(() => [] as string[]);
        for (const p of parts.filter((x) => /^\d+$/.test(x)).sort((a, b) => Number(a) - Number(b))) out.push(`${t}/${p}/`);
      }
      return out;
    },
  };
}
