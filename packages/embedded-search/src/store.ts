/**
 * Durable state of the search node. Layout under the data dir:
 *   meta.json                 indices (uuid, settings, explicit mappings, aliases, creation and
 *                             rollover times), index and component templates, data streams, ILM
 *                             policies; replaced atomically (temp file, fsync, rename) on change
 *   indices/<uuid>.log        per index, one JSON line per write:
 *                               {"o":"i","id":"…","s":seq,"v":version,"src":{…}}   index / create
 *                               {"o":"d","id":"…","s":seq}                           delete
 * At start each log is replayed into a fresh IndexEngine (dynamic mappings come back the same
 * way); a torn last line (crash mid-write) is ignored and cut off. A log that has grown well past
 * its live documents is rewritten as a snapshot. Documents are fsynced on refresh, on a timer
 * (1 s) and at close.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IndexEngine, type Mappings } from './engine/index.js';

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
  /** mappingVersion of the engine when the mappings were last saved. */
  savedMappingVersion: number;
}

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
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      let pos = 0;
      let good = 0;
      while (pos < text.length) {
        const nl = text.indexOf('\n', pos);
        if (nl < 0) break; // torn last line
        const line = text.slice(pos, nl);
        pos = nl + 1;
        if (!line) continue;
        let op: { o: string; id: string; s: number; v?: number; src?: Record<string, unknown> };
        try {
          op = JSON.parse(line);
        } catch {
          break;
        }
        if (op.o === 'i') engine.index(op.id, op.src!, { seqNo: op.s, version: op.v ?? 1 });
        else if (op.o === 'd') engine.delete(op.id);
        seqNo = Math.max(seqNo, op.s);
        lines++;
        good = Buffer.byteLength(text.slice(0, pos));
      }
      if (good < fs.statSync(file).size) fs.truncateSync(file, good);
    }
    const fd = fs.openSync(file, 'a');
    return { meta: m, engine, seqNo, fd, logLines: lines, dirty: false, pending: [], savedMappingVersion: engine.mappingVersion };
  }

  createIndex(name: string, settings: Record<string, string>, mappings: Mappings, aliases: IndexMeta['aliases'], dataStream?: string): LiveIndex {
    const meta: IndexMeta = { name, uuid: randomBytes(16).toString('base64url'), createdAt: Date.now(), settings, mappings, aliases, ...(dataStream ? { dataStream } : {}) };
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
  record(li: LiveIndex, op: { o: 'i'; id: string; s: number; v: number; src: string } | { o: 'd'; id: string; s: number }): void {
    li.pending.push(op.o === 'i' ? `{"o":"i","id":${JSON.stringify(op.id)},"s":${op.s},"v":${op.v},"src":${op.src}}` : JSON.stringify(op));
    li.logLines++;
    li.dirty = true;
  }

  /** Writes the pending lines of every index (one write per index), before a response goes out. */
  flush(): void {
    for (const li of this.live.values()) {
      if (li.pending.length === 0) continue;
      fs.writeSync(li.fd, li.pending.join('\n') + '\n');
      li.pending = [];
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

  /** Rewrites logs that are mostly superseded writes as snapshots of their live documents. */
  compact(): void {
    this.flush();
    for (const li of this.live.values()) {
      if (li.logLines < 1000 || li.logLines < 2 * li.engine.size) continue;
      const file = this.logPath(li.meta);
      const tmp = `${file}.snapshot`;
      const fd = fs.openSync(tmp, 'w');
      for (const id of li.engine.ids()) {
        const d = li.engine.get(id)!;
        fs.writeSync(fd, `{"o":"i","id":${JSON.stringify(id)},"s":${d.seqNo},"v":${d.version},"src":${li.engine.sourceText(li.engine.numOf(id)!)}}\n`);
      }
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.closeSync(li.fd);
      fs.renameSync(tmp, file);
      li.fd = fs.openSync(file, 'a');
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
