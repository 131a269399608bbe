/**
 * Durable state of the search node. Layout under the data dir:
 *   meta.json                 indices (uuid, settings, explicit mappings, aliases, creation and
 *                             rollover times), index and component templates, data streams, ILM
 *                             policies; replaced atomically (temp file, fsync, rename) on change
 *   indices/<uuid>.log        per index, one JSON line per write:
 *                               {"o":"i","id":"…","s":seq,"v":version,"src":{…}}   index / create
 *                               {"o":"d","id":"…","s":seq}                           delete
 * The keys are written in that order, and the value of "src" is the document's JSON text as
 * received, so a line's _source is the byte range between `"src":` and the closing brace.
 * At start each log is replayed into a fresh IndexEngine (dynamic mappings come back the same
 * way), read in chunks (a log may pass the longest string V8 can hold); a torn last line (crash
 * mid-write) is ignored and cut off. A log that has grown well past its live documents is
 * rewritten as a snapshot. Documents are fsynced on refresh, on a timer (1 s) and at close.
 *
 * Once a write is in the log, the engine drops its copy of the _source and reads it back from
 * the log by position when a hit, a GET or a phrase check needs it (the page cache serves it):
 * sources were most of the node's memory (~700 bytes of an ~1 KB ECS event, per document).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IndexEngine, type Mappings } from './engine/index.js';
import { SEARCH_NODE_ERRORS } from './audit-errors.js';

export interface IndexMeta {
  name: string;
  uuid: string;
  createdAt: number;
  rolledOverAt?: number;
  settings: Record<string, string>;
  mappings: Mappings;
  aliases: Record<string, { is_write_index?: boolean }>;
  dataStream?: string;
}

export interface IndexTemplate {
  index_patterns: string[];
  priority?: number;
  composed_of?: string[];
  template?: { mappings?: Mappings; settings?: Record<string, unknown>; aliases?: Record<string, object> };
  data_stream?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
  version?: number;
}

export interface DataStream {
  name: string;
  generation: number;
  indices: string[];
  template: string;
  createdAt: number;
}

export interface Meta {
  indices: Record<string, IndexMeta>;
  templates: Record<string, IndexTemplate>;
  componentTemplates: Record<string, { template: IndexTemplate['template']; version?: number; _meta?: Record<string, unknown> }>;
  dataStreams: Record<string, DataStream>;
  ilm: Record<string, { policy: Record<string, unknown>; version: number; modified: number }>;
}

export interface LiveIndex {
  meta: IndexMeta;
  engine: IndexEngine;
  seqNo: number;
  fd: number;
  logLines: number;
  dirty: boolean;
  /** Lines not yet written to the log; flushed before a request is answered. */
  pending: string[];
  /** For each pending line of an index op: its doc number, the byte length before its source, and the source's. */
  pendingDocs: number[];
  pendingHead: number[];
  pendingSrc: number[];
  /** Bytes in the log file (where the next write lands). */
  bytes: number;
  /** Reads a byte range of the log (the engine's source reader). */
  read: (pos: number, len: number) => string;
  /** mappingVersion of the engine when the mappings were last saved. */
  savedMappingVersion: number;
}

const SRC_KEY = Buffer.from('"src":');

function atomicWrite(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, data);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/** Flattens `{ index: { lifecycle: { name: x } } }` and `{ "index.lifecycle.name": x }` alike. */
export function flattenSettings(s: Record<string, unknown> | undefined, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s ?? {})) {
    const key = prefix + k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flattenSettings(v as Record<string, unknown>, `${key}.`));
    else out[key.startsWith('index.') ? key : `index.${key}`] = String(v);
  }
  return out;
}

export class Store {
  readonly meta: Meta;
  readonly live = new Map<string, LiveIndex>();
  private readonly metaFile: string;
  private readonly indicesDir: string;

  constructor(readonly dir: string) {
    this.indicesDir = path.join(dir, 'indices');
    fs.mkdirSync(this.indicesDir, { recursive: true });
    this.metaFile = path.join(dir, 'meta.json');
    this.meta = fs.existsSync(this.metaFile)
      ? (JSON.parse(fs.readFileSync(this.metaFile, 'utf8')) as Meta)
      : { indices: {}, templates: {}, componentTemplates: {}, dataStreams: {}, ilm: {} };
    for (const m of Object.values(this.meta.indices)) this.live.set(m.name, this.open(m));
  }

  saveMeta(): void {
    atomicWrite(this.metaFile, JSON.stringify(this.meta));
  }

  private logPath(m: IndexMeta): string {
    return path.join(this.indicesDir, `${m.uuid}.log`);
  }

  private open(m: IndexMeta): LiveIndex {
    const engine = new IndexEngine(m.mappings);
    const file = this.logPath(m);
    let seqNo = -1;
    let lines = 0;
    let good = 0;
    const li: LiveIndex = {
      meta: m,
      engine,
      seqNo,
      fd: -1,
      logLines: 0,
      dirty: false,
      pending: [],
      pendingDocs: [],
      pendingHead: [],
      pendingSrc: [],
      bytes: 0,
      savedMappingVersion: 0,
      read: (pos, len) => {
        const buf = Buffer.allocUnsafe(len);
        let done = 0;
        while (done < len) {
          const n = fs.readSync(li.fd, buf, done, len - done, pos + done);
          if (n === 0) throw SEARCH_NODE_ERRORS.AUDIT_ERR_SEARCH_LOG_TRUNCATED.create(file, pos + len);
          done += n;
        }
        return buf.toString('utf8');
      },
    };
    if (fs.existsSync(file)) {
      const fd = fs.openSync(file, 'r');
      const chunk = Buffer.allocUnsafe(16 * 2 ** 20);
      let carry = Buffer.alloc(0);
      let fileOffset = 0; // file position of carry[0]
      let torn = false;
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, fileOffset + carry.length);
        if (n === 0) break;
        const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
        let pos = 0;
        for (;;) {
          const nl = buf.indexOf(10, pos);
          if (nl < 0) break;
          const start = pos;
          pos = nl + 1;
          if (nl === start) {
            good = fileOffset + pos;
            continue;
          }
          const line = buf.toString('utf8', start, nl);
          let op: { o: string; id: string; s: number; v?: number; src?: Record<string, unknown> };
          try {
            op = JSON.parse(line);
          } catch {
            torn = true;
            break;
          }
          if (op.o === 'i') {
            const at = buf.indexOf(SRC_KEY, start);
            const srcStart = at + SRC_KEY.length;
            // the source stays in the log: the engine reads it back by position
            const inLog = at >= 0 && at < nl && buf[srcStart] === 0x7b && buf[nl - 1] === 0x7d;
            engine.index(op.id, op.src!, { seqNo: op.s, version: op.v ?? 1 }, inLog ? '' : undefined);
            if (inLog) engine.sourceStored(engine.numOf(op.id)!, fileOffset + srcStart, nl - 1 - srcStart, li.read);
          } else if (op.o === 'd') engine.delete(op.id);
          seqNo = Math.max(seqNo, op.s);
          lines++;
          good = fileOffset + pos;
        }
        if (torn) break;
        // keep the unfinished line for the next chunk
        const rest = buf.subarray(pos);
        fileOffset += pos;
        carry = Buffer.from(rest);
      }
      fs.closeSync(fd);
      // a torn last line (no newline, or not JSON) is cut off
      if (good < fs.statSync(file).size) fs.truncateSync(file, good);
    }
    li.fd = fs.openSync(file, 'a+');
    li.seqNo = seqNo;
    li.logLines = lines;
    li.bytes = good;
    li.savedMappingVersion = engine.mappingVersion;
    return li;
  }

  createIndex(name: string, settings: Record<string, string>, mappings: Mappings, aliases: IndexMeta['aliases'], dataStream?: string): LiveIndex {
    const meta: IndexMeta = {
      name,
      uuid: randomBytes(16).toString('base64url'),
      createdAt: Date.now(),
      settings,
      mappings,
      aliases,
      ...(dataStream ? { dataStream } : {}),
    };
    // validate mappings before anything is written
    new IndexEngine(mappings);
    this.meta.indices[name] = meta;
    const li = this.open(meta);
    this.live.set(name, li);
    this.saveMeta();
    return li;
  }

  deleteIndex(name: string): void {
    const li = this.live.get(name);
    if (!li) return;
    li.pending = [];
    li.pendingDocs = [];
    li.pendingHead = [];
    li.pendingSrc = [];
    fs.closeSync(li.fd);
    this.live.delete(name);
    delete this.meta.indices[name];
    for (const ds of Object.values(this.meta.dataStreams)) ds.indices = ds.indices.filter((i) => i !== name);
    this.saveMeta();
    fs.rmSync(this.logPath(li.meta), { force: true });
  }

  /**
   * Appends one write to the index's log (the engine was updated by the caller). `src` is the
   * document's JSON text, spliced in as is (it was parsed, so it is valid JSON on one line).
   */
  record(li: LiveIndex, op: { o: 'i'; id: string; s: number; v: number; src: string; doc: number } | { o: 'd'; id: string; s: number }): void {
    if (op.o === 'i') {
      const head = `{"o":"i","id":${JSON.stringify(op.id)},"s":${op.s},"v":${op.v},"src":`;
      li.pending.push(head + op.src + '}');
      li.pendingDocs.push(op.doc);
      li.pendingHead.push(Buffer.byteLength(head));
      li.pendingSrc.push(Buffer.byteLength(op.src));
    } else {
      const line = JSON.stringify(op);
      li.pending.push(line);
      li.pendingDocs.push(-1);
      li.pendingHead.push(Buffer.byteLength(line) - 1);
      li.pendingSrc.push(0);
    }
    li.logLines++;
    li.dirty = true;
  }

  /** Writes the pending lines of every index (one write per index), before a response goes out. */
  flush(): void {
    for (const li of this.live.values()) {
      if (li.pending.length === 0) continue;
      const data = Buffer.from(li.pending.join('\n') + '\n');
      let done = 0;
      while (done < data.length) done += fs.writeSync(li.fd, data, done);
      // the sources just written are read back from the log from now on
      let pos = li.bytes;
      for (let i = 0; i < li.pending.length; i++) {
        const head = li.pendingHead[i]!;
        const len = li.pendingSrc[i]!;
        const doc = li.pendingDocs[i]!;
        if (doc >= 0) li.engine.sourceStored(doc, pos + head, len, li.read);
        pos += head + len + 2; // closing brace and newline
      }
      li.bytes = pos;
      li.pending = [];
      li.pendingDocs = [];
      li.pendingHead = [];
      li.pendingSrc = [];
      if (li.engine.mappingVersion !== li.savedMappingVersion) {
        li.meta.mappings = li.engine.mappings();
        li.savedMappingVersion = li.engine.mappingVersion;
        this.saveMeta();
      }
    }
  }

  sync(li?: LiveIndex): void {
    this.flush();
    for (const x of li ? [li] : this.live.values()) {
      if (!x.dirty) continue;
      fs.fsyncSync(x.fd);
      x.dirty = false;
    }
  }

  /** Rewrites logs that are mostly superseded writes as snapshots of their live documents (minLines: tests force it). */
  compact(minLines = 1000): void {
    this.flush();
    for (const li of this.live.values()) {
      if (li.logLines < minLines || li.logLines < 2 * li.engine.size) continue;
      const file = this.logPath(li.meta);
      const tmp = `${file}.snapshot`;
      const fd = fs.openSync(tmp, 'w');
      const moved: [number, number, number][] = [];
      let pos = 0;
      for (const id of li.engine.ids()) {
        const d = li.engine.get(id)!;
        const n = li.engine.numOf(id)!;
        const head = `{"o":"i","id":${JSON.stringify(id)},"s":${d.seqNo},"v":${d.version},"src":`;
        const line = Buffer.from(`${head}${li.engine.sourceText(n)}}\n`);
        const headBytes = Buffer.byteLength(head);
        moved.push([n, pos + headBytes, line.length - headBytes - 2]);
        let done = 0;
        while (done < line.length) done += fs.writeSync(fd, line, done);
        pos += line.length;
      }
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.closeSync(li.fd);
      fs.renameSync(tmp, file);
      li.fd = fs.openSync(file, 'a+');
      li.bytes = pos;
      for (const [n, at, len] of moved) li.engine.sourceStored(n, at, len, li.read);
      li.logLines = li.engine.size;
      li.dirty = false;
    }
  }

  close(): void {
    this.sync();
    for (const li of this.live.values()) fs.closeSync(li.fd);
    this.live.clear();
  }
}
