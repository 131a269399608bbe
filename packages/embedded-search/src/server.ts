/**
 * The HTTP face of the search node: the Elasticsearch REST subset that @elastic/elasticsearch 8
 * (and Kibana-style tooling) uses, in Elasticsearch's response shapes, with the product header the
 * client checks. Routing, index resolution (names, comma lists, wildcards, aliases, data streams),
 * templates, data streams, ILM, documents and bulk live here; queries in ./engine.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@jwt-audit/runtime';
import { EsError, indexNotFound, parsingError, unsupported } from './errors.js';
import { count as countDocs, fieldCaps, IndexEngine, search as searchDocs, type Mappings, type SearchOptions, type SearchTarget } from './engine/index.js';
import { flattenSettings, Store, type IndexTemplate, type LiveIndex } from './store.js';
import { authenticateResponse, Security, WWW_AUTHENTICATE, type SecurityOptions } from './security.js';

export interface SearchNodeOptions {
  dir: string;
  /** 0 = ephemeral; default 9200. */
  port?: number;
  host?: string;
  logger?: Logger;
  /** How often ILM phases are evaluated; default 60 s (tests use less). */
  ilmPollIntervalMs?: number;
  /** Require authentication (basic and API keys), as Elasticsearch with security enabled (./security.ts). */
  security?: SecurityOptions;
  /** Serve HTTPS: PEM key and certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface SearchNode {
  url: string;
  port: number;
  /** Runs one ILM pass now (rollover and delete phases). */
  runIlm(): void;
  close(): Promise<void>;
}

const VERSION = '8.19.2';
type Json = Record<string, unknown>;
type Params = Record<string, string | undefined>;

interface Req {
  method: string;
  parts: string[];
  params: Params;
  body: Buffer;
  json(): Json | undefined;
}

interface Res {
  status: number;
  body?: unknown;
}

const ok = (body: unknown, status = 200): Res => ({ status, body });
const ack = (): Res => ok({ acknowledged: true });

const INVALID_INDEX = /[\\/*?"<>| ,#:]/;

function validateIndexName(name: string): void {
  if (name !== name.toLowerCase()) throw new EsError(400, 'invalid_index_name_exception', `Invalid index name [${name}], must be lowercase`, { index: name });
  if (INVALID_INDEX.test(name) || /^[-_+]/.test(name) || name === '.' || name === '..' || Buffer.byteLength(name) > 255) {
    throw new EsError(
      400,
      'invalid_index_name_exception',
      `Invalid index name [${name}], must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]`,
      { index: name },
    );
  }
}

function timeValueMs(v: unknown): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(String(v ?? '0'));
  if (!m) throw new EsError(400, 'illegal_argument_exception', `failed to parse setting [min_age] with value [${String(v)}] as a time value`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[m[2] ?? 'ms']!;
}

function globToRegExp(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

function shards(n = 1) {
  return { total: n, successful: n, skipped: 0, failed: 0 };
}

const silent = () => createLogger({ name: 'embedded-search', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

export async function startSearchNode(opts: SearchNodeOptions): Promise<SearchNode> {
  const log = (opts.logger ?? silent()).child({ component: 'embedded-search' });
  const store = new Store(opts.dir);
  const now = () => Date.now();

  // ---------- resolution ----------

  function matchingTemplate(name: string): [string, IndexTemplate] | undefined {
    const candidates = Object.entries(store.meta.templates)
      .filter(([, t]) => t.index_patterns.some((p) => globToRegExp(p).test(name)))
      .sort((a, b) => (b[1].priority ?? 0) - (a[1].priority ?? 0));
    return candidates[0];
  }

  function composeTemplate(t: IndexTemplate): { mappings: Mappings; settings: Record<string, string>; aliases: Record<string, object> } {
    const mappings: Mappings = { properties: {} };
    const settings: Record<string, string> = {};
    const aliases: Record<string, object> = {};
    const mergeMappings = (m?: Mappings) => {
      if (!m) return;
      const deep = (into: Record<string, unknown>, from: Record<string, unknown>) => {
        for (const [k, v] of Object.entries(from)) {
          if (v && typeof v === 'object' && !Array.isArray(v) && into[k] && typeof into[k] === 'object')
            deep(into[k] as Record<string, unknown>, v as Record<string, unknown>);
          else into[k] = structuredClone(v);
        }
      };
      deep(mappings as Record<string, unknown>, m as Record<string, unknown>);
    };
    for (const c of t.composed_of ?? []) {
      const comp = store.meta.componentTemplates[c];
      if (!comp) throw new EsError(400, 'invalid_index_template_exception', `index_template references component template [${c}] which does not exist`);
      mergeMappings(comp.template?.mappings);
      Object.assign(settings, flattenSettings(comp.template?.settings as Json | undefined));
      Object.assign(aliases, comp.template?.aliases ?? {});
    }
    mergeMappings(t.template?.mappings);
    Object.assign(settings, flattenSettings(t.template?.settings as Json | undefined));
    Object.assign(aliases, t.template?.aliases ?? {});
    return { mappings, settings, aliases };
  }

  function createIndex(name: string, body: Json = {}, dataStream?: string): LiveIndex {
    validateIndexName(name);
    if (store.live.has(name) || store.meta.dataStreams[name])
      throw new EsError(400, 'resource_already_exists_exception', `index [${name}/${randomBytes(8).toString('base64url')}] already exists`, { index: name });
    // a backing index takes its data stream's template
    const tpl = matchingTemplate(dataStream ?? name);
    const composed = tpl ? composeTemplate(tpl[1]) : { mappings: {}, settings: {}, aliases: {} };
    const mappings: Mappings = { ...composed.mappings, properties: { ...(composed.mappings.properties ?? {}) } };
    const own = body.mappings as Mappings | undefined;
    if (own) {
      Object.assign(mappings.properties!, own.properties ?? {});
      if (own.dynamic !== undefined) mappings.dynamic = own.dynamic;
    }
    for (const k of Object.keys(body)) if (!['mappings', 'settings', 'aliases'].includes(k)) throw parsingError(`unknown key [${k}] for create index`);
    const settings = { ...composed.settings, ...flattenSettings(body.settings as Json | undefined) };
    const aliases = { ...composed.aliases, ...((body.aliases as Record<string, object>) ?? {}) } as Record<string, { is_write_index?: boolean }>;
    const li = store.createIndex(name, settings, mappings, dataStream ? {} : aliases, dataStream);
    log.info({ index: name, dataStream }, 'index created');
    return li;
  }

  function backingName(ds: string, generation: number): string {
    const d = new Date();
    const date = `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
    return `.ds-${ds}-${date}-${String(generation).padStart(6, '0')}`;
  }

  function createDataStream(name: string): void {
    validateIndexName(name);
    if (store.meta.dataStreams[name]) throw new EsError(400, 'resource_already_exists_exception', `data_stream [${name}] already exists`);
    if (store.live.has(name)) throw new EsError(400, 'illegal_argument_exception', `data stream [${name}] conflicts with index`);
    const tpl = matchingTemplate(name);
    if (!tpl || !tpl[1].data_stream) throw new EsError(400, 'illegal_argument_exception', `no matching index template found for data stream [${name}]`);
    const index = backingName(name, 1);
    store.meta.dataStreams[name] = { name, generation: 1, indices: [index], template: tpl[0], createdAt: now() };
    const li = createIndex(index, {}, name);
    ensureTimestampMapping(li);
    store.saveMeta();
  }

  function ensureTimestampMapping(li: LiveIndex): void {
    if (!li.engine.field('@timestamp')) {
      li.engine.putMappings({ properties: { '@timestamp': { type: 'date' } } });
      li.meta.mappings = li.engine.mappings();
      store.saveMeta();
    }
  }

  function rollover(dsName: string): { old: string; fresh: string } {
    const ds = store.meta.dataStreams[dsName];
    if (!ds) throw indexNotFound(dsName);
    const old = ds.indices[ds.indices.length - 1]!;
    ds.generation++;
    const fresh = backingName(dsName, ds.generation);
    const oldMeta = store.meta.indices[old];
    if (oldMeta) oldMeta.rolledOverAt = now();
    ds.indices.push(fresh);
    const li = createIndex(fresh, {}, dsName);
    ensureTimestampMapping(li);
    store.saveMeta();
    log.info({ dataStream: dsName, old, fresh }, 'rolled over');
    return { old, fresh };
  }

  function expand(target: string | undefined, params: Params): string[] {
    const names =
      !target || target === '_all'
        ? ['*']
        : target
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
    const out = new Set<string>();
    const ignoreUnavailable = params.ignore_unavailable === 'true';
    for (const raw of names) {
      const exclude = raw.startsWith('-') && names.length > 1;
      const n = exclude ? raw.slice(1) : raw;
      const found: string[] = [];
      if (n.includes('*')) {
        const re = globToRegExp(n);
        const hiddenOk = n.startsWith('.');
        for (const idx of store.live.keys()) if (re.test(idx) && (hiddenOk || !idx.startsWith('.'))) found.push(idx);
        for (const ds of Object.values(store.meta.dataStreams)) if (re.test(ds.name)) found.push(...ds.indices);
        for (const li of store.live.values()) for (const a of Object.keys(li.meta.aliases)) if (re.test(a)) found.push(li.meta.name);
      } else if (store.meta.dataStreams[n]) found.push(...store.meta.dataStreams[n]!.indices);
      else if (store.live.has(n)) found.push(n);
      else {
        for (const li of store.live.values()) if (li.meta.aliases[n]) found.push(li.meta.name);
        if (found.length === 0 && !ignoreUnavailable) throw indexNotFound(n);
      }
      for (const f of found) exclude ? out.delete(f) : out.add(f);
    }
    if (out.size === 0 && params.allow_no_indices === 'false') throw indexNotFound(target ?? '_all');
    return [...out].filter((n) => store.live.has(n));
  }

  function targets(target: string | undefined, params: Params): SearchTarget[] {
    return expand(target, params).map((index) => ({ index, engine: store.live.get(index)!.engine }));
  }

  /** A data stream's name where only an index or alias may be named (get by id, mget, an index op). */
  function dataStreamExcluded(name: string): EsError {
    return new EsError(404, 'index_not_found_exception', `no such index [${name}]`, {
      'resource.type': 'index_or_alias',
      excluded_ds: 'true',
      'resource.id': name,
      index_uuid: '_na_',
      index: name,
    });
  }

  /** Where a write to `name` goes, creating the index or data stream on first write as ES does. */
  function writeTarget(name: string, op: string): { li: LiveIndex; dataStream?: string } {
    if (store.meta.dataStreams[name]) {
      if (op !== 'create')
        throw new EsError(400, 'illegal_argument_exception', `only write ops with an op_type of create are allowed in data streams`, {
          caused_by: dataStreamExcluded(name).toCause(),
        });
      const ds = store.meta.dataStreams[name]!;
      return { li: store.live.get(ds.indices[ds.indices.length - 1]!)!, dataStream: name };
    }
    const existing = store.live.get(name);
    if (existing) return { li: existing, ...(existing.meta.dataStream ? { dataStream: existing.meta.dataStream } : {}) };
    for (const li of store.live.values()) {
      const a = li.meta.aliases[name];
      if (a) {
        const writers = [...store.live.values()].filter((x) => x.meta.aliases[name]);
        if (writers.length === 1 || a.is_write_index) return { li };
      }
    }
    if ([...store.live.values()].some((x) => x.meta.aliases[name])) {
      throw new EsError(
        400,
        'illegal_argument_exception',
        `no write index is defined for alias [${name}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index`,
      );
    }
    const tpl = matchingTemplate(name);
    if (tpl?.[1].data_stream) {
      createDataStream(name);
      return writeTarget(name, op);
    }
    return { li: createIndex(name) };
  }

  // ---------- documents ----------

  /** `text` is the document's JSON as received (a bulk line): stored and logged as is, not serialised again. */
  function writeDoc(li: LiveIndex, id: string, source: unknown, op: 'index' | 'create', dataStream?: string, text?: string, bulkItem = false): Json {
    if (source === null || typeof source !== 'object' || Array.isArray(source))
      throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: document is not an object`);
    const src = source as Json;
    if (dataStream && src['@timestamp'] === undefined)
      throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: data stream timestamp field [@timestamp] is missing`, {
        caused_by: { type: 'illegal_argument_exception', reason: 'data stream timestamp field [@timestamp] is missing' },
        _index: li.meta.name,
      });
    // the version alone, not a document view: this runs once per bulk item
    const currentVersion = li.engine.versionOf(id);
    if (op === 'create' && currentVersion !== undefined) {
      throw new EsError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${currentVersion}])`, {
        index_uuid: li.meta.uuid,
        shard: '0',
        index: li.meta.name,
      });
    }
    const seqNo = li.seqNo + 1;
    const version = (currentVersion ?? 0) + 1;
    const srcText = text ?? JSON.stringify(src);
    li.engine.index(id, src, { seqNo, version }, srcText);
    li.seqNo = seqNo;
    // the doc number index() just gave out (the last one): no second lookup of the id
    store.record(li, { o: 'i', id, s: seqNo, v: version, src: srcText, doc: li.engine.docLimit - 1 });
    const res: Json = {
      _index: li.meta.name,
      _id: id,
      _version: version,
      result: currentVersion !== undefined ? 'updated' : 'created',
      _shards: { total: 1, successful: 1, failed: 0 },
      _seq_no: seqNo,
      _primary_term: 1,
    };
    // a bulk item carries its status last, as Elasticsearch writes it
    if (bulkItem) res.status = currentVersion !== undefined ? 200 : 201;
    return res;
  }

  function deleteDoc(li: LiveIndex, id: string): Json {
    const current = li.engine.get(id);
    const seqNo = li.seqNo + 1;
    li.seqNo = seqNo;
    if (current) {
      li.engine.delete(id);
      store.record(li, { o: 'd', id, s: seqNo });
    }
    return {
      _index: li.meta.name,
      _id: id,
      _version: (current?.version ?? 0) + 1,
      result: current ? 'deleted' : 'not_found',
      _shards: { total: 1, successful: 1, failed: 0 },
      _seq_no: seqNo,
      _primary_term: 1,
    };
  }

  function refresh(params: Params, lis: LiveIndex[]): void {
    if (params.refresh === 'true' || params.refresh === 'wait_for' || params.refresh === '') for (const li of lis) store.sync(li);
  }

  /**
   * The action line as clients write it (`{"create":{"_index":"x","_id":"y"}}`, either key or both
   * in that order) read without JSON.parse, which was a tenth of a bulk's CPU. The pattern admits
   * only valid JSON: `[^"\\\x00-\x1f]` are the characters a JSON string holds unescaped, so the
   * groups are what JSON.parse would give; anything else (escapes, spaces, other keys) is parsed.
   */
  const ACTION_LINE = /^\{"(create|index|delete)":\{(?:"_index":"([^"\\\x00-\x1f]*)"(?:,"_id":"([^"\\\x00-\x1f]*)")?|"_id":"([^"\\\x00-\x1f]*)")?\}\}$/;
  function actionOf(m: RegExpExecArray): Json {
    const meta: Json = {};
    if (m[2] !== undefined) meta._index = m[2];
    const id = m[3] ?? m[4];
    if (id !== undefined) meta._id = id;
    return { [m[1]!]: meta };
  }

  function bulk(body: Buffer, defaultIndex: string | undefined, params: Params): Res {
    const started = now();
    const lines = body.toString('utf8').split('\n');
    const items: Json[] = [];
    const touched = new Set<LiveIndex>();
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      let action: Json;
      const fast = ACTION_LINE.exec(line);
      try {
        action = fast ? actionOf(fast) : JSON.parse(line);
      } catch {
        throw new EsError(
          400,
          'illegal_argument_exception',
          `Malformed action/metadata line [${i + 1}], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]`,
        );
      }
      const op = Object.keys(action)[0];
      if (!op || !['index', 'create', 'delete', 'update'].includes(op))
        throw new EsError(
          400,
          'illegal_argument_exception',
          `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${op}]`,
        );
      const meta = (action[op] ?? {}) as Json;
      const index = (meta._index as string | undefined) ?? defaultIndex;
      let id = meta._id as string | undefined;
      let doc: unknown;
      let docText: string | undefined;
      if (op !== 'delete') {
        const next = lines[++i];
        if (next === undefined || next.trim() === '')
          throw new EsError(400, 'illegal_argument_exception', `The bulk request must be terminated by a newline [\\n]`);
        try {
          docText = next.trim();
          doc = JSON.parse(docText);
        } catch (err) {
          doc = Symbol.for('bad-json');
          void err;
        }
      }
      const opType = op === 'index' && meta.op_type === 'create' ? 'create' : op;
      try {
        if (!index) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
        if (op === 'update') throw unsupported('bulk [update] operations');
        if (doc === Symbol.for('bad-json')) throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: unexpected character in document`);
        if (op === 'delete') {
          if (!id) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: id is missing;');
          const names = expand(index, { ignore_unavailable: 'true' });
          const li = store.live.get(names.find((n) => store.live.get(n)!.engine.has(id!)) ?? names[names.length - 1] ?? '');
          if (!li) throw indexNotFound(index);
          const r = deleteDoc(li, id);
          touched.add(li);
          items.push({ delete: { ...r, status: r.result === 'deleted' ? 200 : 404 } });
          continue;
        }
        id ??= randomBytes(15).toString('base64url');
        const { li, dataStream } = writeTarget(index, opType);
        touched.add(li);
        items.push({ [op]: writeDoc(li, id, doc, opType as 'index' | 'create', dataStream, docText, true) });
      } catch (err) {
        if (!(err instanceof EsError)) throw err;
        errors = true;
        // a document refused by a data stream's write index names that backing index, as Elasticsearch does
        const resolved = typeof err.extra._index === 'string' ? err.extra._index : index;
        const { _index: _ignored, ...cause } = err.toCause();
        items.push({ [op]: { _index: resolved ?? null, _id: id ?? null, status: err.status, error: cause } });
      }
    }
    refresh(params, [...touched]);
    // Elasticsearch marks every successful item of a refresh=true bulk (not wait_for) as refreshed.
    if (params.refresh === 'true' || params.refresh === '') {
      for (const item of items) {
        const r = Object.values(item)[0] as Json;
        if (!r.error) r.forced_refresh = true;
      }
    }
    return ok({ took: now() - started, errors, items });
  }

  // ---------- ILM ----------

  function policyOf(indexName: string): Json | undefined {
    const li = store.live.get(indexName);
    const name = li?.meta.settings['index.lifecycle.name'];
    return name ? (store.meta.ilm[name]?.policy as Json | undefined) : undefined;
  }

  function runIlm(): void {
    const t = now();
    for (const ds of Object.values(store.meta.dataStreams)) {
      const write = ds.indices[ds.indices.length - 1];
      if (!write) continue;
      const policy = policyOf(write);
      const phases = (policy?.phases ?? {}) as Record<string, { min_age?: string; actions?: Record<string, Record<string, unknown>> }>;
      const ro = phases.hot?.actions?.rollover;
      const wli = store.live.get(write);
      if (ro && wli && wli.engine.size > 0) {
        const age = t - wli.meta.createdAt;
        const maxAge = ro.max_age !== undefined ? timeValueMs(ro.max_age) : Infinity;
        const maxDocs = Number(ro.max_docs ?? ro.max_primary_shard_docs ?? Infinity);
        if (age >= maxAge || wli.engine.size >= maxDocs) rollover(ds.name);
      }
    }
    for (const li of [...store.live.values()]) {
      const policy = policyOf(li.meta.name);
      const del = (policy?.phases as Record<string, { min_age?: string; actions?: Record<string, unknown> }> | undefined)?.delete;
      if (!del?.actions || !('delete' in del.actions)) continue;
      const ds = li.meta.dataStream ? store.meta.dataStreams[li.meta.dataStream] : undefined;
      if (ds && ds.indices[ds.indices.length - 1] === li.meta.name) continue; // never the write index
      const since = li.meta.rolledOverAt ?? li.meta.createdAt;
      if (t - since >= timeValueMs(del.min_age ?? '0ms')) {
        store.deleteIndex(li.meta.name);
        log.info({ index: li.meta.name, policy: li.meta.settings['index.lifecycle.name'] }, 'ILM delete phase: index deleted');
      }
    }
  }

  // ---------- search contexts: points in time and scrolls ----------

  /**
   * A point in time or a scroll: the target indices and, per index, the doc numbers that existed
   * when it opened (doc numbers only grow, so the documents written later stay out; a document
   * deleted or replaced later is gone from it too, where Elasticsearch would still show it).
   */
  interface SearchContext {
    kind: 'pit' | 'scroll';
    targets: string[];
    limits: Map<string, number>;
    expires: number;
    /** scroll only: the search it pages through and the next offset. */
    body?: Json;
    params?: Params;
    offset?: number;
    /** scroll only: the hits of the first page's search, sorted (later pages are slices of it). */
    cache?: NonNullable<SearchOptions['scrollCache']>;
  }
  const contexts = new Map<string, SearchContext>();
  let contextSeq = 0;
  /** As Elasticsearch's search.max_open_scroll_context (500): beyond it a new context is refused. */
  const MAX_CONTEXTS = 500;

  function keepAlive(v: unknown, setting: string): number {
    const m = /^(\d+)(nanos|micros|ms|s|m|h|d)$/.exec(String(v ?? ''));
    if (!m)
      throw new EsError(
        400,
        'illegal_argument_exception',
        `failed to parse setting [${setting}] with value [${String(v)}] as a time value: unit is missing or unrecognized`,
      );
    const unit = { nanos: 1e-6, micros: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']!;
    return Number(m[1]) * unit;
  }

  function openContext(kind: 'pit' | 'scroll', t: SearchTarget[], ttl: number, extra: Partial<SearchContext> = {}): string {
    const t0 = now();
    for (const [id, c] of contexts) if (c.expires <= t0) contexts.delete(id);
    if (contexts.size >= MAX_CONTEXTS) {
      throw new EsError(
        429,
        'es_rejected_execution_exception',
        `Trying to create too many scroll contexts. Must be less than or equal to: [${MAX_CONTEXTS}]. This limit can be set by changing the [search.max_open_scroll_context] setting.`,
      );
    }
    const id = Buffer.from(`${kind}:${++contextSeq}:${randomBytes(12).toString('hex')}`).toString('base64url');
    contexts.set(id, { kind, targets: t.map((x) => x.index), limits: new Map(t.map((x) => [x.index, x.engine.docLimit])), expires: t0 + ttl, ...extra });
    return id;
  }

  /** The context an id names: 400 for what is no id of this node, 404 (search_context_missing_exception) for one that is gone. */
  function findContext(id: unknown, kind: 'pit' | 'scroll'): [string, SearchContext] {
    const text = typeof id === 'string' ? Buffer.from(id, 'base64url').toString('utf8') : '';
    const m = /^(pit|scroll):(\d+):[0-9a-f]{24}$/.exec(text);
    if (!m || m[1] !== kind)
      throw new EsError(400, 'illegal_argument_exception', kind === 'scroll' ? 'Cannot parse scroll id' : 'invalid id', {
        caused_by: { type: 'e_o_f_exception', reason: null },
      });
    const c = contexts.get(String(id));
    if (!c || c.expires <= now()) {
      contexts.delete(String(id));
      const cause = { type: 'search_context_missing_exception', reason: `No search context found for id [${m[2]}]` };
      throw new EsError(404, 'search_phase_execution_exception', 'all shards failed', {
        phase: 'query',
        grouped: true,
        failed_shards: [{ shard: -1, index: null, reason: cause }],
        caused_by: cause,
      });
    }
    return [String(id), c];
  }

  function contextTargets(c: SearchContext): SearchTarget[] {
    return c.targets.filter((n) => store.live.has(n)).map((index) => ({ index, engine: store.live.get(index)!.engine }));
  }

  function scrollRoute(r: Req): Res {
    const body = r.parts[2] !== undefined ? {} : (r.json() ?? {});
    const id = r.parts[2] ?? r.params.scroll_id ?? body.scroll_id;
    if (r.method === 'DELETE') {
      const ids = (Array.isArray(id) ? id : id === undefined ? [] : [id]).map(String);
      if (ids.length === 0) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: no scroll ids specified;');
      let freed = 0;
      for (const x of ids) {
        if (x === '_all') {
          for (const [k, c] of contexts) if (c.kind === 'scroll' && contexts.delete(k)) freed++;
          continue;
        }
        try {
          const [k] = findContext(x, 'scroll');
          if (contexts.delete(k)) freed++;
        } catch (err) {
          if (err instanceof EsError && err.status === 400) throw err;
        }
      }
      return ok({ succeeded: true, num_freed: freed }, freed > 0 ? 200 : 404);
    }
    if (id === undefined) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: scrollId is missing;');
    const [, c] = findContext(id, 'scroll');
    const ttl = r.params.scroll ?? body.scroll;
    if (ttl !== undefined) c.expires = now() + keepAlive(ttl, 'scroll');
    const started = now();
    const t = contextTargets(c);
    const size = Number(c.params?.size ?? c.body?.size ?? 10);
    let res: Record<string, unknown>;
    try {
      res = searchDocs(t, c.body, c.params ?? {}, now(), { docLimits: c.limits, scrollOffset: c.offset, scrollCache: (c.cache ??= {}) });
    } catch (err) {
      throw shardPhaseFailure(err);
    }
    c.offset = (c.offset ?? 0) + size;
    return ok({ _scroll_id: String(id), took: now() - started, timed_out: false, _shards: shards(t.length), ...res });
  }

  function pitClose(r: Req): Res {
    const body = r.json() ?? {};
    const ids = (Array.isArray(body.id) ? body.id : [body.id]).filter((x) => x !== undefined);
    if (ids.length === 0) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: no pit ids specified;');
    let freed = 0;
    for (const x of ids) {
      try {
        const [k] = findContext(x, 'pit');
        if (contexts.delete(k)) freed++;
      } catch (err) {
        if (err instanceof EsError && err.status === 400) throw err;
      }
    }
    return ok({ succeeded: freed === ids.length, num_freed: freed }, freed > 0 ? 200 : 404);
  }

  // ---------- async search: each search completes at once; kept only with keep_on_completion ----------

  const asyncResults = new Map<string, { body: Json; expires: number }>();
  let asyncSeq = 0;
  const MAX_ASYNC = 1000;

  function asyncSearch(target: string | undefined, r: Req): Res {
    const p = r.params;
    if (p.scroll !== undefined)
      throw new EsError(
        400,
        'action_request_validation_exception',
        'Validation Failed: 1: [request_cache] cannot be used in a scroll context;2: [scroll] queries are not supported;',
      );
    const ttl = keepAlive(p.keep_alive ?? '5d', 'keep_alive');
    if (p.wait_for_completion_timeout !== undefined) keepAlive(p.wait_for_completion_timeout, 'wait_for_completion_timeout');
    const started = now();
    const params: Params = { ...p };
    for (const k of ['keep_alive', 'keep_on_completion', 'wait_for_completion_timeout', 'batched_reduce_size', 'ccs_minimize_roundtrips']) delete params[k];
    const meta = { is_partial: false, is_running: false, start_time_in_millis: started, expiration_time_in_millis: started + ttl };
    let status = 200;
    let out: Json;
    try {
      const res = searchRoute(target, { ...r, params });
      out = { ...meta, completion_time_in_millis: now(), response: res.body };
    } catch (err) {
      // what fails while searching is the async search's own error (status_exception) with the search's
      // status; what Elasticsearch refuses before searching (a body it cannot parse) is a plain error
      if (!(err instanceof EsError) || !['search_phase_execution_exception', 'index_not_found_exception'].includes(err.type)) throw err;
      status = err.status;
      const error = { type: 'status_exception', reason: 'error while executing search', caused_by: err.toCause() };
      out =
        err.type === 'index_not_found_exception'
          ? { ...meta, is_partial: true, error }
          : {
              ...meta,
              is_partial: true,
              completion_time_in_millis: now(),
              response: {
                took: now() - started,
                timed_out: false,
                _shards: { total: 1, successful: 0, skipped: 0, failed: 1, failures: err.extra.failed_shards },
                hits: { total: { value: 0, relation: 'gte' }, max_score: null, hits: [] },
              },
              error,
            };
    }
    if (p.keep_on_completion === 'true') {
      for (const [id, a] of asyncResults) if (a.expires <= now()) asyncResults.delete(id);
      if (asyncResults.size >= MAX_ASYNC) throw new EsError(429, 'es_rejected_execution_exception', `too many stored async search results (${MAX_ASYNC})`);
      const id = Buffer.from(`async:${++asyncSeq}:${randomBytes(12).toString('hex')}`).toString('base64url');
      out = { id, ...out };
      asyncResults.set(id, { body: out, expires: started + ttl });
    }
    return ok(out, status);
  }

  function asyncResult(r: Req): Res {
    const status = r.parts[1] === 'status';
    const id = r.parts[status ? 2 : 1] ?? '';
    if (!/^async:\d+:[0-9a-f]{24}$/.test(Buffer.from(id, 'base64url').toString('utf8')))
      throw new EsError(400, 'illegal_argument_exception', `invalid id: [${id}]`);
    const a = asyncResults.get(id);
    if (!a || a.expires <= now()) {
      asyncResults.delete(id);
      throw new EsError(404, 'resource_not_found_exception', id);
    }
    if (r.method === 'DELETE') {
      asyncResults.delete(id);
      return ack();
    }
    if (status) {
      const { response, ...rest } = a.body as Json & { response?: Json };
      return ok({ ...rest, _shards: response?._shards ?? shards(0), completion_status: 200 });
    }
    return ok(a.body);
  }

  /** `_resolve/index/<expression>`: the indices, aliases and data streams a name or pattern names. */
  function resolveIndex(expr: string): Res {
    const indices = new Map<string, Json>();
    const aliases = new Map<string, Set<string>>();
    const streams = new Set<string>();
    for (const raw of expr
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const wild = raw.includes('*');
      const re = globToRegExp(raw);
      let found = false;
      for (const ds of Object.keys(store.meta.dataStreams)) if (re.test(ds)) streams.add(ds), (found = true);
      for (const li of store.live.values()) {
        const name = li.meta.name;
        if (re.test(name) && (!li.meta.dataStream || !wild) && (!name.startsWith('.') || raw.startsWith('.'))) {
          indices.set(name, {
            name,
            ...(Object.keys(li.meta.aliases).length ? { aliases: Object.keys(li.meta.aliases).sort() } : {}),
            attributes: li.meta.dataStream ? ['hidden', 'open'] : ['open'],
            ...(li.meta.dataStream ? { data_stream: li.meta.dataStream } : {}),
          });
          found = true;
        }
        for (const a of Object.keys(li.meta.aliases)) {
          if (re.test(a)) {
            (aliases.get(a) ?? aliases.set(a, new Set()).get(a)!).add(name);
            found = true;
          }
        }
      }
      if (!found && !wild) throw indexNotFound(raw);
    }
    return ok({
      indices: [...indices.values()].sort((x, y) => String(x.name).localeCompare(String(y.name))),
      aliases: [...aliases].sort().map(([name, set]) => ({ name, indices: [...set].sort() })),
      data_streams: [...streams].sort().map((name) => {
        const ds = store.meta.dataStreams[name]!;
        return { name, backing_indices: [...ds.indices], timestamp_field: '@timestamp' };
      }),
    });
  }

  function fieldCapsRoute(target: string | undefined, r: Req): Res {
    const body = r.json() ?? {};
    const list = (v: unknown) =>
      v === undefined
        ? undefined
        : Array.isArray(v)
          ? v.map(String)
          : String(v)
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean);
    const patterns = list(r.params.fields) ?? list(body.fields);
    if (!patterns || patterns.length === 0) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: no fields specified;');
    let t = targets(target, r.params);
    if (body.index_filter !== undefined) {
      // an index whose documents cannot match the filter is left out, as Elasticsearch's can-match phase does
      t = t.filter((x) => countDocs([x], { query: body.index_filter }, {}, now()).count > 0);
    }
    const types = list(r.params.types ?? body.types);
    return ok(fieldCaps(t, patterns, (r.params.include_unmapped ?? String(body.include_unmapped ?? false)) === 'true', types));
  }

  const MSEARCH_HEADER = new Set([
    'index',
    'indices',
    'search_type',
    'preference',
    'routing',
    'request_cache',
    'ignore_unavailable',
    'allow_no_indices',
    'expand_wildcards',
    'ignore_throttled',
    'allow_partial_search_results',
    'ccs_minimize_roundtrips',
    'max_concurrent_shard_requests',
    'pre_filter_shard_size',
    'batched_reduce_size',
  ]);

  /**
   * `_msearch`: header/body line pairs. A body Elasticsearch cannot parse fails the whole request;
   * what fails in a search (a missing index, a shard-level error) is that item's error with its status.
   */
  function msearch(target: string | undefined, r: Req): Res {
    const text = r.body.toString('utf8');
    if (text.trim() === '') throw new EsError(400, 'parse_exception', 'request body or source parameter is required');
    if (!text.endsWith('\n')) throw new EsError(400, 'illegal_argument_exception', 'The msearch request must be terminated by a newline [\n]');
    const lines = text.split('\n');
    lines.pop();
    const parseLine = (l: string): Json => {
      try {
        const v = JSON.parse(l) as unknown;
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SyntaxError('not an object'); // caught just below: a JSON value that is not an object is a parse error;
        return v as Json;
      } catch (err) {
        throw new EsError(400, 'x_content_parse_exception', `[1:1] ${(err as Error).message}`);
      }
    };
    const items: { header: Json; body: Json }[] = [];
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const header = lines[i]!.trim() === '' ? {} : parseLine(lines[i]!);
      for (const k of Object.keys(header))
        if (!MSEARCH_HEADER.has(k)) throw new EsError(400, 'illegal_argument_exception', `key [${k}] is not supported in the metadata section`);
      items.push({ header, body: lines[i + 1]!.trim() === '' ? {} : parseLine(lines[i + 1]!) });
    }
    if (items.length === 0) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
    const started = now();
    const responses = items.map(({ header, body }) => {
      const idx = header.index ?? header.indices;
      const itemTarget = idx === undefined ? target : Array.isArray(idx) ? idx.map(String).join(',') : String(idx);
      const params: Params = {};
      for (const k of ['ignore_unavailable', 'allow_no_indices']) if (header[k] !== undefined) params[k] = String(header[k]);
      const t0 = now();
      try {
        const t = targets(itemTarget, params);
        const res = searchDocs(t, body, {}, now());
        return { took: now() - t0, timed_out: false, _shards: shards(t.length), ...res, status: 200 };
      } catch (err) {
        const e = shardPhaseFailure(err);
        if (e instanceof EsError && (e.type === 'search_phase_execution_exception' || e.type === 'index_not_found_exception'))
          return { ...e.toBody(), status: e.status };
        throw e;
      }
    });
    return ok({ took: now() - started, responses });
  }

  // ---------- routes ----------

  function indexInfo(li: LiveIndex): Json {
    const settings: Json = {
      index: { number_of_shards: '1', number_of_replicas: '0', uuid: li.meta.uuid, creation_date: String(li.meta.createdAt), provided_name: li.meta.name },
    };
    for (const [k, v] of Object.entries(li.meta.settings)) {
      const parts = k.replace(/^index\./, '').split('.');
      let o = settings.index as Json;
      for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Json;
      o[parts[parts.length - 1]!] = v;
    }
    return { aliases: li.meta.aliases, mappings: li.engine.mappings(), settings, ...(li.meta.dataStream ? { data_stream: li.meta.dataStream } : {}) };
  }

  function route(r: Req): Res {
    const [a, b, c] = r.parts;
    const m = r.method;
    const p = r.params;
    if (r.parts.length === 0) {
      if (m === 'GET' || m === 'HEAD') {
        return ok({
          name: 'embedded-search',
          cluster_name: 'jwt-audit',
          cluster_uuid: 'embedded',
          version: {
            number: VERSION,
            build_flavor: 'default',
            build_type: 'embedded',
            build_hash: 'embedded',
            build_date: '2026-01-01T00:00:00Z',
            build_snapshot: false,
            lucene_version: '9.12.0',
            minimum_wire_compatibility_version: '7.17.0',
            minimum_index_compatibility_version: '7.0.0',
          },
          tagline: 'You Know, for Search',
        });
      }
    }
    if (a === '_cluster' && b === 'health' && m === 'GET') {
      const n = store.live.size;
      return ok({
        cluster_name: 'jwt-audit',
        status: 'green',
        timed_out: false,
        number_of_nodes: 1,
        number_of_data_nodes: 1,
        active_primary_shards: n,
        active_shards: n,
        relocating_shards: 0,
        initializing_shards: 0,
        unassigned_shards: 0,
        delayed_unassigned_shards: 0,
        number_of_pending_tasks: 0,
        number_of_in_flight_fetch: 0,
        task_max_waiting_in_queue_millis: 0,
        active_shards_percent_as_number: 100,
      });
    }
    if (a === '_bulk' && (m === 'POST' || m === 'PUT')) return bulk(r.body, undefined, p);
    if (a === '_search' && b === 'scroll' && (m === 'GET' || m === 'POST' || m === 'DELETE')) return scrollRoute(r);
    if (a === '_search' && (m === 'GET' || m === 'POST')) return searchRoute(undefined, r);
    if (a === '_pit' && m === 'DELETE') return pitClose(r);
    if (a === '_async_search' && b && (m === 'GET' || m === 'DELETE')) return asyncResult(r);
    if (a === '_async_search' && !b && m === 'POST') return asyncSearch(undefined, r);
    if (a === '_resolve' && b === 'index' && c && m === 'GET') return resolveIndex(c);
    if (a === '_msearch' && (m === 'GET' || m === 'POST')) return msearch(undefined, r);
    if (a === '_field_caps' && (m === 'GET' || m === 'POST')) return fieldCapsRoute(undefined, r);
    if (a === '_count' && (m === 'GET' || m === 'POST')) return countRoute(undefined, r);
    if (a === '_mget' && (m === 'GET' || m === 'POST')) return mget(undefined, r);
    if (a === '_refresh' && (m === 'POST' || m === 'GET')) {
      store.sync();
      return ok({ _shards: { total: store.live.size, successful: store.live.size, failed: 0 } });
    }
    if (a === '_index_template') {
      if (b && m === 'PUT') {
        const body = r.json() ?? {};
        if (!Array.isArray(body.index_patterns) || body.index_patterns.length === 0)
          throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: index patterns are missing;');
        for (const k of Object.keys(body))
          if (!['index_patterns', 'priority', 'composed_of', 'template', 'data_stream', '_meta', 'version', 'allow_auto_create'].includes(k))
            throw parsingError(`[index_template] unknown field [${k}]`);
        const tpl = body as unknown as IndexTemplate;
        composeTemplate(tpl);
        if (tpl.template?.mappings) {
          // validates the mapping types now rather than at first write, wrapped as Elasticsearch wraps it
          try {
            new IndexEngine(tpl.template.mappings);
          } catch (err) {
            if (!(err instanceof EsError) || err.type !== 'mapper_parsing_exception') throw err;
            throw new EsError(400, 'illegal_argument_exception', `composable template [${b}] template after composition is invalid`, {
              caused_by: {
                type: 'illegal_argument_exception',
                reason: `invalid composite mappings for [${b}]`,
                caused_by: { type: 'mapper_parsing_exception', reason: `Failed to parse mapping: ${err.message}`, caused_by: err.toCause() },
              },
            });
          }
        }
        store.meta.templates[b] = tpl;
        store.saveMeta();
        return ack();
      }
      if (m === 'GET') {
        const names = b ? Object.keys(store.meta.templates).filter((n) => globToRegExp(b).test(n)) : Object.keys(store.meta.templates);
        if (b && !b.includes('*') && names.length === 0) throw new EsError(404, 'resource_not_found_exception', `index template matching [${b}] not found`);
        return ok({ index_templates: names.map((name) => ({ name, index_template: store.meta.templates[name] })) });
      }
      if (b && m === 'HEAD') return ok(undefined, store.meta.templates[b] ? 200 : 404);
      if (b && m === 'DELETE') {
        if (!store.meta.templates[b]) throw new EsError(404, 'index_template_missing_exception', `index_template [${b}] missing`);
        delete store.meta.templates[b];
        store.saveMeta();
        return ack();
      }
    }
    if (a === '_component_template') {
      if (b && m === 'PUT') {
        const body = r.json() ?? {};
        store.meta.componentTemplates[b] = body as never;
        store.saveMeta();
        return ack();
      }
      if (m === 'GET') {
        const names = b ? [b] : Object.keys(store.meta.componentTemplates);
        if (b && !store.meta.componentTemplates[b]) throw new EsError(404, 'resource_not_found_exception', `component template matching [${b}] not found`);
        return ok({ component_templates: names.map((name) => ({ name, component_template: store.meta.componentTemplates[name] })) });
      }
      if (b && m === 'DELETE') {
        delete store.meta.componentTemplates[b];
        store.saveMeta();
        return ack();
      }
    }
    if (a === '_data_stream') {
      if (b && m === 'PUT') {
        createDataStream(b);
        return ack();
      }
      if (m === 'GET') {
        const names = b ? Object.keys(store.meta.dataStreams).filter((n) => globToRegExp(b).test(n)) : Object.keys(store.meta.dataStreams);
        if (b && !b.includes('*') && names.length === 0) throw indexNotFound(b);
        return ok({
          data_streams: names.map((n) => {
            const ds = store.meta.dataStreams[n]!;
            const policy = store.live.get(ds.indices[ds.indices.length - 1] ?? '')?.meta.settings['index.lifecycle.name'];
            return {
              name: n,
              timestamp_field: { name: '@timestamp' },
              indices: ds.indices.map((i) => ({ index_name: i, index_uuid: store.live.get(i)?.meta.uuid })),
              generation: ds.generation,
              status: 'GREEN',
              template: ds.template,
              ...(policy ? { ilm_policy: policy } : {}),
              hidden: false,
              system: false,
              allow_custom_routing: false,
              replicated: false,
            };
          }),
        });
      }
      if (b && m === 'DELETE') {
        const names = Object.keys(store.meta.dataStreams).filter((n) => globToRegExp(b).test(n));
        if (names.length === 0) throw indexNotFound(b);
        for (const n of names) {
          for (const i of [...store.meta.dataStreams[n]!.indices]) store.deleteIndex(i);
          delete store.meta.dataStreams[n];
        }
        store.saveMeta();
        return ack();
      }
    }
    if (a === '_ilm') {
      if (b === 'policy' && c && m === 'PUT') {
        const body = r.json() ?? {};
        if (!body.policy || typeof body.policy !== 'object') throw parsingError('[put_lifecycle] policy is required');
        const prev = store.meta.ilm[c];
        store.meta.ilm[c] = { policy: body.policy as Json, version: (prev?.version ?? 0) + 1, modified: now() };
        store.saveMeta();
        return ack();
      }
      if (b === 'policy' && m === 'GET') {
        const names = c ? [c] : Object.keys(store.meta.ilm);
        if (c && !store.meta.ilm[c]) throw new EsError(404, 'resource_not_found_exception', `Lifecycle policy not found: ${c}`);
        return ok(
          Object.fromEntries(
            names.map((n) => [
              n,
              { version: store.meta.ilm[n]!.version, modified_date: new Date(store.meta.ilm[n]!.modified).toISOString(), policy: store.meta.ilm[n]!.policy },
            ]),
          ),
        );
      }
      if (b === 'policy' && c && m === 'DELETE') {
        if (!store.meta.ilm[c]) throw new EsError(404, 'resource_not_found_exception', `Lifecycle policy not found: ${c}`);
        delete store.meta.ilm[c];
        store.saveMeta();
        return ack();
      }
    }
    if (a === '_aliases' && m === 'POST') {
      const actions = ((r.json() ?? {}).actions as Json[] | undefined) ?? [];
      for (const action of actions) {
        const [kind, spec] = Object.entries(action)[0] as [string, Json];
        const indices = expand(String(spec.index ?? (spec.indices as string[] | undefined)?.join(',') ?? ''), {});
        const alias = String(spec.alias ?? '');
        for (const i of indices) {
          const li = store.live.get(i)!;
          if (kind === 'add') li.meta.aliases[alias] = spec.is_write_index !== undefined ? { is_write_index: Boolean(spec.is_write_index) } : {};
          else if (kind === 'remove') delete li.meta.aliases[alias];
          else throw unsupported(`alias action [${kind}]`);
        }
      }
      store.saveMeta();
      return ack();
    }
    if (a === '_alias' && m === 'GET') {
      const out: Json = {};
      for (const li of store.live.values()) {
        const names = Object.keys(li.meta.aliases).filter((n) => !b || globToRegExp(b).test(n));
        if (names.length) out[li.meta.name] = { aliases: Object.fromEntries(names.map((n) => [n, li.meta.aliases[n]])) };
      }
      if (b && Object.keys(out).length === 0) return ok({ error: `alias [${b}] missing`, status: 404 }, 404);
      return ok(out);
    }
    if (a === '_cat' && b === 'indices' && m === 'GET') {
      const rows = [...store.live.values()].map((li) => ({
        health: 'green',
        status: 'open',
        index: li.meta.name,
        uuid: li.meta.uuid,
        pri: '1',
        rep: '0',
        'docs.count': String(li.engine.size),
        'docs.deleted': '0',
      }));
      if (p.format === 'json') return ok(rows);
      return { status: 200, body: rows.map((x) => `${x.health} ${x.status} ${x.index} ${x.uuid} 1 0 ${x['docs.count']} 0`).join('\n') + '\n' };
    }
    if (a && !a.startsWith('_')) return indexRoutes(a, r);
    throw new EsError(
      400,
      'illegal_argument_exception',
      `unsupported by the embedded search node: ${m} /${r.parts.join('/')} (see packages/embedded-search/README.md for what is supported)`,
    );
  }

  function indexRoutes(target: string, r: Req): Res {
    const [, b, c] = r.parts;
    const m = r.method;
    const p = r.params;
    if (!b) {
      if (m === 'PUT') {
        createIndex(target, r.json() ?? {});
        return ok({ acknowledged: true, shards_acknowledged: true, index: target });
      }
      if (m === 'HEAD') {
        try {
          return ok(undefined, expand(target, {}).length > 0 || target.includes('*') ? 200 : 404);
        } catch {
          return ok(undefined, 404);
        }
      }
      if (m === 'GET') return ok(Object.fromEntries(expand(target, p).map((n) => [n, indexInfo(store.live.get(n)!)])));
      if (m === 'DELETE') {
        if (store.meta.dataStreams[target])
          throw new EsError(400, 'illegal_argument_exception', `index [${target}] is a data stream; delete it with DELETE /_data_stream/${target}`);
        const names = expand(target, p);
        for (const n of names) {
          const ds = store.live.get(n)?.meta.dataStream;
          if (ds && store.meta.dataStreams[ds]?.indices.at(-1) === n)
            throw new EsError(400, 'illegal_argument_exception', `index [${n}] is the write index for data stream [${ds}] and cannot be deleted`);
        }
        for (const n of names) store.deleteIndex(n);
        return ack();
      }
    }
    switch (b) {
      case '_mapping':
        if (m === 'GET') return ok(Object.fromEntries(expand(target, p).map((n) => [n, { mappings: store.live.get(n)!.engine.mappings() }])));
        if (m === 'PUT' || m === 'POST') {
          const body = (r.json() ?? {}) as Mappings;
          for (const n of expand(target, p)) {
            const li = store.live.get(n)!;
            li.engine.putMappings(body);
            li.meta.mappings = li.engine.mappings();
          }
          store.saveMeta();
          return ack();
        }
        break;
      case '_settings':
        if (m === 'GET') return ok(Object.fromEntries(expand(target, p).map((n) => [n, { settings: indexInfo(store.live.get(n)!).settings }])));
        if (m === 'PUT') {
          const s = flattenSettings((r.json() ?? {}) as Json);
          for (const n of expand(target, p)) Object.assign(store.live.get(n)!.meta.settings, s);
          store.saveMeta();
          return ack();
        }
        break;
      case '_doc':
      case '_create': {
        if (m === 'GET' || m === 'HEAD') {
          // Elasticsearch resolves a get against indices and aliases only: a data stream's name is
          // not found (its backing indices are), as index_not_found_exception with excluded_ds
          if (store.meta.dataStreams[target]) throw dataStreamExcluded(target);
          const li = store.live.get(target) ?? store.live.get(expand(target, {})[0] ?? '');
          if (!li) throw indexNotFound(target);
          const d = c ? li.engine.get(decodeURIComponent(c)) : undefined;
          if (!d) return ok({ _index: li.meta.name, _id: c, found: false }, 404);
          return ok({ _index: li.meta.name, _id: c, _version: d.version, _seq_no: d.seqNo, _primary_term: 1, found: true, _source: d.source });
        }
        if (m === 'DELETE' && c && b === '_doc') {
          const li = store.live.get(target);
          if (!li) throw indexNotFound(target);
          const res = deleteDoc(li, decodeURIComponent(c));
          refresh(p, [li]);
          return ok(res, res.result === 'deleted' ? 200 : 404);
        }
        if (m === 'PUT' || m === 'POST') {
          // an auto-generated id makes the write a create, as Elasticsearch does (so it may go to a data stream)
          const op = b === '_create' || p.op_type === 'create' || !c ? 'create' : 'index';
          const id = c ? decodeURIComponent(c) : randomBytes(15).toString('base64url');
          if (!c && m === 'PUT') throw new EsError(405, 'method_not_allowed', 'Incorrect HTTP method for uri and method: [PUT], allowed: [POST]');
          const { li, dataStream } = writeTarget(target, op);
          const res = writeDoc(li, id, r.json(), op, dataStream);
          refresh(p, [li]);
          // as in a bulk: refresh=true (not wait_for) answers that it forced a refresh
          if (p.refresh === 'true' || p.refresh === '') res.forced_refresh = true;
          return ok(res, res.result === 'created' ? 201 : 200);
        }
        break;
      }
      case '_bulk':
        if (m === 'POST' || m === 'PUT') return bulk(r.body, target, p);
        break;
      case '_search':
        if (m === 'GET' || m === 'POST') return searchRoute(target, r);
        break;
      case '_count':
        if (m === 'GET' || m === 'POST') return countRoute(target, r);
        break;
      case '_msearch':
        if (m === 'GET' || m === 'POST') return msearch(target, r);
        break;
      case '_async_search':
        if (m === 'POST') return asyncSearch(target, r);
        break;
      case '_field_caps':
        if (m === 'GET' || m === 'POST') return fieldCapsRoute(target, r);
        break;
      case '_pit':
        if (m === 'POST') {
          if (p.keep_alive === undefined) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: [keep_alive] is not specified;');
          const ttl = keepAlive(p.keep_alive, 'keep_alive');
          return ok({ id: openContext('pit', targets(target, p), ttl) });
        }
        break;
      case '_forcemerge':
        // there are no segments to merge: accepted, as a node whose shards are already merged answers
        if (m === 'POST') {
          const names = expand(target, p);
          return ok({ _shards: { total: names.length, successful: names.length, failed: 0 } });
        }
        break;
      case '_mget':
        if (m === 'GET' || m === 'POST') return mget(target, r);
        break;
      case '_refresh':
        if (m === 'POST' || m === 'GET') {
          const names = expand(target, p);
          for (const n of names) store.sync(store.live.get(n));
          return ok({ _shards: { total: names.length, successful: names.length, failed: 0 } });
        }
        break;
      case '_rollover':
        if (m === 'POST') {
          const res = rollover(target);
          return ok({
            acknowledged: true,
            shards_acknowledged: true,
            old_index: res.old,
            new_index: res.fresh,
            rolled_over: true,
            dry_run: false,
            conditions: {},
          });
        }
        break;
      case '_alias':
        if (c && (m === 'PUT' || m === 'POST')) {
          for (const n of expand(target, p)) store.live.get(n)!.meta.aliases[c] = {};
          store.saveMeta();
          return ack();
        }
        if (c && m === 'DELETE') {
          for (const n of expand(target, p)) delete store.live.get(n)!.meta.aliases[c];
          store.saveMeta();
          return ack();
        }
        break;
      case '_ilm':
        if (c === 'explain' && m === 'GET') {
          return ok({
            indices: Object.fromEntries(
              expand(target, p).map((n) => {
                const li = store.live.get(n)!;
                const policy = li.meta.settings['index.lifecycle.name'];
                return [
                  n,
                  policy
                    ? {
                        index: n,
                        managed: true,
                        policy,
                        index_creation_date_millis: li.meta.createdAt,
                        age: `${Math.round((now() - li.meta.createdAt) / 1000)}s`,
                      }
                    : { index: n, managed: false },
                ];
              }),
            ),
          });
        }
        break;
    }
    throw new EsError(
      400,
      'illegal_argument_exception',
      `unsupported by the embedded search node: ${m} /${r.parts.join('/')} (see packages/embedded-search/README.md for what is supported)`,
    );
  }

  /**
   * Elasticsearch parses a search body on the coordinating node but builds the query, sorts and
   * aggregations on each shard: what fails there answers as a search_phase_execution_exception
   * ("all shards failed") whose root cause and failed_shards carry the shard's error, with its status.
   * Body syntax errors (parsing_exception for an unknown query type, x_content_parse_exception) and
   * what the embedded node does not implement are not wrapped.
   */
  function shardPhaseFailure(err: unknown): unknown {
    if (
      !(err instanceof EsError) ||
      err.status !== 400 ||
      /^(unsupported by the embedded search node|\[(from|size)\] parameter cannot be negative|The nested depth of the query exceeds)/.test(err.message)
    )
      return err;
    const shardLevel =
      ['query_shard_exception', 'parse_exception', 'illegal_argument_exception', 'script_exception'].includes(err.type) ||
      (err.type === 'parsing_exception' && err.message.startsWith('Failed to parse query ['));
    if (!shardLevel) return err;
    const cause = err.toCause();
    return new EsError(400, 'search_phase_execution_exception', 'all shards failed', {
      phase: 'query',
      grouped: true,
      failed_shards: [{ shard: 0, index: null, node: 'embedded', reason: cause }],
      caused_by: cause,
    });
  }

  function searchRoute(target: string | undefined, r: Req): Res {
    const started = now();
    const body = r.json();
    const pit = body?.pit as Json | undefined;
    const scroll = r.params.scroll;
    if (pit !== undefined) {
      if (target !== undefined)
        throw new EsError(
          400,
          'action_request_validation_exception',
          'Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;',
        );
      if (scroll !== undefined)
        throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: using [point in time] is not allowed in a scroll context;');
      if (pit === null || typeof pit !== 'object') throw parsingError('[pit] expected an object');
      const [id, c] = findContext(pit.id, 'pit');
      if (pit.keep_alive !== undefined) c.expires = now() + keepAlive(pit.keep_alive, 'keep_alive');
      const t = contextTargets(c);
      let res: Record<string, unknown>;
      try {
        res = searchDocs(t, body, r.params, now(), { docLimits: c.limits, pit: true });
      } catch (err) {
        throw shardPhaseFailure(err);
      }
      return ok({ pit_id: id, took: now() - started, timed_out: false, _shards: shards(t.length), ...res });
    }
    let opts: SearchOptions = {};
    let ttl = 0;
    if (scroll !== undefined) {
      ttl = keepAlive(scroll, 'scroll');
      if (Number(r.params.from ?? body?.from ?? 0) > 0)
        throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: using [from] is not allowed in a scroll context;');
      if (body?.search_after !== undefined) throw new EsError(400, 'search_exception', '`search_after` cannot be used in a scroll context.');
      opts = { scrollOffset: 0, scrollCache: {} };
    }
    const t = targets(target, r.params);
    let res: Record<string, unknown>;
    try {
      res = searchDocs(t, body, r.params, now(), opts);
    } catch (err) {
      throw shardPhaseFailure(err);
    }
    if (scroll !== undefined) {
      const size = Number(r.params.size ?? body?.size ?? 10);
      const id = openContext('scroll', t, ttl, {
        body: body ?? {},
        params: { ...r.params, scroll: undefined },
        offset: size,
        ...(opts.scrollCache ? { cache: opts.scrollCache } : {}),
      });
      return ok({ _scroll_id: id, took: now() - started, timed_out: false, _shards: shards(t.length), ...res });
    }
    return ok({ took: now() - started, timed_out: false, _shards: shards(t.length), ...res });
  }

  function countRoute(target: string | undefined, r: Req): Res {
    const t = targets(target, r.params);
    return ok({ ...countDocs(t, r.json(), r.params, now()), _shards: shards(t.length) });
  }

  function mget(target: string | undefined, r: Req): Res {
    const body = r.json() ?? {};
    const specs: Json[] | undefined = Array.isArray(body.docs)
      ? (body.docs as Json[])
      : Array.isArray(body.ids)
        ? (body.ids as string[]).map((id): Json => ({ _id: id }))
        : undefined;
    if (!specs) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: no documents to get;');
    return ok({
      docs: specs.map((s) => {
        const index = String(s._index ?? target ?? '');
        const id = String(s._id);
        const li = store.live.get(index);
        if (!li) return { _index: index, _id: id, error: (store.meta.dataStreams[index] ? dataStreamExcluded(index) : indexNotFound(index)).toCause() };
        const d = li.engine.get(id);
        return d
          ? { _index: index, _id: id, _version: d.version, _seq_no: d.seqNo, _primary_term: 1, found: true, _source: d.source }
          : { _index: index, _id: id, found: false };
      }),
    });
  }

  // ---------- HTTP ----------

  const security = opts.security ? new Security(opts.security) : undefined;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 200 * 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const accept = String(req.headers.accept ?? '');
      const contentType = accept.includes('vnd.elasticsearch') ? 'application/vnd.elasticsearch+json;compatible-with=8' : 'application/json';
      const send = (status: number, body: unknown) => {
        const headers: Record<string, string | string[]> = {
          'x-elastic-product': 'Elasticsearch',
          ...(status === 401 && security ? { 'www-authenticate': WWW_AUTHENTICATE } : {}),
        };
        if (req.method === 'HEAD' || body === undefined) {
          res.writeHead(status, headers).end();
          return;
        }
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res
          .writeHead(status, {
            ...headers,
            'content-type': typeof body === 'string' ? 'text/plain; charset=UTF-8' : contentType,
            'content-length': Buffer.byteLength(text),
          })
          .end(text);
      };
      try {
        if (size > 200 * 1024 * 1024) throw new EsError(413, 'content_too_long_exception', 'request body is larger than 200 MiB');
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (security) {
          const principal = security.authenticate(req.headers, url.pathname);
          if (url.pathname === '/_security/_authenticate') {
            send(200, authenticateResponse(principal));
            return;
          }
        }
        const parts = url.pathname
          .split('/')
          .filter(Boolean)
          .map((s) => decodeURIComponent(s));
        const params: Params = Object.fromEntries(url.searchParams);
        const body = Buffer.concat(chunks);
        let parsed: Json | undefined | null = null;
        const r: Req = {
          method: req.method ?? 'GET',
          parts,
          params,
          body,
          json() {
            if (parsed !== null) return parsed;
            const text = body.toString('utf8').trim();
            if (!text) return (parsed = undefined);
            let v: unknown;
            try {
              v = JSON.parse(text) as unknown;
            } catch (err) {
              throw new EsError(400, 'x_content_parse_exception', `[1:1] Failed to parse the request body as JSON: ${(err as Error).message}`);
            }
            // valid JSON that is not an object: Elasticsearch's parser names the token it found instead
            if (v === null || typeof v !== 'object' || Array.isArray(v)) {
              const token = Array.isArray(v)
                ? 'START_ARRAY'
                : v === null
                  ? 'VALUE_NULL'
                  : typeof v === 'string'
                    ? 'VALUE_STRING'
                    : typeof v === 'number'
                      ? 'VALUE_NUMBER'
                      : 'VALUE_BOOLEAN';
              throw new EsError(400, 'parsing_exception', `Expected [START_OBJECT] but found [${token}]`, { line: 1, col: 1 });
            }
            return (parsed = v as Json);
          },
        };
        let out: Res;
        try {
          out = route(r);
        } finally {
          // every write of this request reaches the log before the response leaves
          store.flush();
        }
        send(out.status, out.body);
      } catch (err) {
        if (err instanceof EsError) {
          send(err.status, err.toBody());
        } else {
          log.error({ err: (err as Error).message, stack: (err as Error).stack, url: req.url }, 'request failed');
          send(500, new EsError(500, 'exception', (err as Error).message).toBody());
        }
      }
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, handler) : http.createServer(handler);
  // Elasticsearch does not close an idle client connection; node's 5 s default did, and under load
  // (a long bulk holding the event loop) the timer fired with a pooled client's next request
  // already on the wire: "read ECONNRESET", retried by the client (issue #28 item 4). Idle sockets
  // are closed after 10 minutes instead, announced in the Keep-Alive header so clients close first.
  server.keepAliveTimeout = 600_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9200, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const timers = [
    setInterval(() => store.sync(), 1_000),
    setInterval(() => store.compact(), 60_000),
    setInterval(() => {
      try {
        runIlm();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'ILM pass failed');
      }
    }, opts.ilmPollIntervalMs ?? 60_000),
  ];
  for (const t of timers) t.unref();
  const scheme = opts.tls ? 'https' : 'http';
  log.info({ url: `${scheme}://${host}:${port}`, dir: opts.dir, indices: store.live.size, security: security !== undefined }, 'embedded search node listening');
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    runIlm,
    close: () =>
      (closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        store.close();
        log.info('embedded search node stopped');
      })()),
  };
}
