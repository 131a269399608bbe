/**
 * Where archive files live. Write-once by contract: `putExclusive` fails if the object exists, and
 * a stored object is never modified, only deleted by the retention task. An object appears whole
 * or not at all: the local backend writes a hidden temporary file, fsyncs it, publishes it under
 * its name with link(2) (exclusive: fails if the name exists), fsyncs the directory, and makes the
 * file read-only. An S3
 * backend maps this onto PutObject with `If-None-Match: *` into a bucket with Object Lock
 * (compliance mode, retention = the archive's retention), ListObjectsV2 and DeleteObject after
 * the lock expires.
 */
import { promises as fs, constants } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface ArchiveStorage {
  putExclusive(key: string, data: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Keys under a prefix ("topic/partition/"), sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** Topic/partition prefixes present ("audit.enriched.v1/0/"). */
  streams(): Promise<string[]>;
  /** Topics present (a folder per topic, holding partition streams and/or checkpoints), sorted. */
  topics(): Promise<string[]>;
  /**
   * Removes what interrupted writes left under a prefix (never a published object); returns the
   * names removed. S3: abort the prefix's incomplete multipart uploads.
   */
  removeIncomplete(prefix: string): Promise<string[]>;
}

export class StorageError extends Error {
  constructor(
    message: string,
    readonly code: 'exists' | 'not-found' | 'io',
  ) {
    super(message);
  }
}

/** Hidden: `list` skips names starting with a dot, so readers never see a file being written. */
const TMP_PREFIX = '.tmp-';

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
      // Written under a hidden temporary name, fsynced, then published with link(2), which fails
      // when the name exists: the final name only ever holds a complete file, so a crash (or a
      // SIGKILL) mid-write leaves at most a hidden temporary file, never a torn segment or
      // manifest that a reader or the next start would take for a sealed one.
      const file = abs(key);
      const dir = path.dirname(file);
      await fs.mkdir(dir, { recursive: true });
      if (
        await fs.access(file).then(
          () => true,
          () => false,
        )
      )
        throw new StorageError(`${key} already exists`, 'exists');
      const tmp = path.join(dir, `${TMP_PREFIX}${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}`);
      const h = await fs.open(tmp, 'wx', 0o444);
      try {
        try {
          await h.writeFile(data);
          await h.sync();
        } finally {
          await h.close();
        }
        try {
          await fs.link(tmp, file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new StorageError(`${key} already exists`, 'exists');
          throw err;
        }
      } finally {
        await fs.rm(tmp, { force: true });
      }
      await fsyncDir(dir);
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
        return (await fs.readdir(abs(prefix)))
          .filter((f) => !f.startsWith('.'))
          .sort()
          .map((f) => prefix + f);
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
    async removeIncomplete(prefix) {
      const dir = abs(prefix);
      const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith(TMP_PREFIX));
      for (const f of names) await fs.rm(path.join(dir, f), { force: true });
      if (names.length > 0) await fsyncDir(dir);
      return names.map((f) => prefix + f);
    },
    async topics() {
      const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
      return entries
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    },
    async streams() {
      const out: string[] = [];
      const topics = (await fs.readdir(root).catch(() => [] as string[])).filter((t) => !t.startsWith('.'));
      for (const t of topics.sort()) {
        const parts = await fs.readdir(path.join(root, t)).catch(() => [] as string[]);
        for (const p of parts.filter((x) => /^\d+$/.test(x)).sort((a, b) => Number(a) - Number(b))) out.push(`${t}/${p}/`);
      }
      return out;
    },
  };
}
