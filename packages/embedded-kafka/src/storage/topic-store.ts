import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog, type LogOptions } from './partition-log.js';
import { readJson, writeFileAtomic } from './durable-file.js';
import { DEFAULT_CONFIGS } from './topic-config.js';

/**
 * Topics, their partitions and configs. Layout under the data dir:
 *   topics.json                 { "<topic>": { "partitions": N, "configs": { "retention.ms": "..." } } }
 *   logs/<topic>-<partition>/   one PartitionLog each
 */

export interface TopicMeta {
  partitions: number;
  configs: Record<string, string>;
  /** Topic id (KIP-516), 32 hex digits; given to topics created before ids existed when loaded. */
  id?: string;
}

export interface Topic {
  name: string;
  meta: TopicMeta;
  logs: PartitionLog[];
}

const VALID_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export class TopicStore {
  readonly topics = new Map<string, Topic>();
  private readonly metaFile: string;
  private readonly logsDir: string;

  readonly defaults: Record<string, string>;

  /** `brokerDefaults`: topic configs whose default comes from the broker (max.message.bytes from message.max.bytes). */
  constructor(
    private readonly dir: string,
    private readonly fsync: LogOptions['fsync'],
    brokerDefaults: Record<string, string> = {},
    private readonly onTornTail?: LogOptions['onTornTail'],
  ) {
    this.defaults = { ...DEFAULT_CONFIGS, ...brokerDefaults };
    fs.mkdirSync(dir, { recursive: true });
    this.metaFile = path.join(dir, 'topics.json');
    this.logsDir = path.join(dir, 'logs');
    const meta = readJson<Record<string, TopicMeta>>(this.metaFile, {});
    let missingIds = false;
    for (const [name, m] of Object.entries(meta)) {
      if (!m.id) {
        m.id = randomBytes(16).toString('hex');
        missingIds = true;
      }
      this.topics.set(name, this.open(name, m));
    }
    if (missingIds) this.save();
  }

  static validName(name: string): boolean {
    return VALID_NAME.test(name) && name !== '.' && name !== '..';
  }

  private logOptions(m: TopicMeta): LogOptions {
    const c = { ...this.defaults, ...m.configs };
    return {
      fsync: this.fsync,
      segmentBytes: Number(c['segment.bytes']),
      segmentMs: Number(c['segment.ms']),
      ...(this.onTornTail ? { onTornTail: this.onTornTail } : {}),
    };
  }

  /** Opens every partition; if one fails (EMFILE, ENOSPC), closes those already open and rethrows. */
  private open(name: string, m: TopicMeta, from = 0): Topic {
    const logs: PartitionLog[] = [];
    try {
      for (let p = from; p < m.partitions; p++) logs.push(new PartitionLog(path.join(this.logsDir, `${name}-${p}`), this.logOptions(m)));
    } catch (err) {
      for (const log of logs) log.close();
      throw err;
    }
    return { name, meta: m, logs };
  }

  private save(): void {
    const meta: Record<string, TopicMeta> = {};
    for (const t of this.topics.values()) meta[t.name] = t.meta;
    writeFileAtomic(this.metaFile, JSON.stringify(meta, null, 2), this.fsync !== 'never');
  }

  /**
   * Creates a topic, all or nothing: when a partition cannot be opened (a resource limit), every
   * descriptor opened for it is closed, its directories are removed, topics.json is not touched,
   * and the error is rethrown for the caller to answer.
   */
  create(name: string, partitions: number, configs: Record<string, string>): Topic {
    const dirs = Array.from({ length: partitions }, (_, p) => path.join(this.logsDir, `${name}-${p}`));
    const removeDirs = () => {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    };
    let t: Topic;
    try {
      t = this.open(name, { partitions, configs, id: randomBytes(16).toString('hex') });
    } catch (err) {
      removeDirs();
      throw err;
    }
    this.topics.set(name, t);
    try {
      this.save();
    } catch (err) {
      this.topics.delete(name);
      for (const log of t.logs) log.close();
      removeDirs();
      throw err;
    }
    return t;
  }

  /** The topic with this id (Metadata v10+ asks by id). */
  nameOf(id: string): string | undefined {
    for (const t of this.topics.values()) if (t.meta.id === id) return t.name;
    return undefined;
  }

  /** CreatePartitions: opens partitions [current, count), all or nothing, as create() does. */
  addPartitions(name: string, count: number): void {
    const t = this.topics.get(name)!;
    const from = t.meta.partitions;
    const dirs = Array.from({ length: count - from }, (_, i) => path.join(this.logsDir, `${name}-${from + i}`));
    let added: Topic;
    try {
      added = this.open(name, { ...t.meta, partitions: count }, from);
    } catch (err) {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      throw err;
    }
    t.logs.push(...added.logs);
    t.meta.partitions = count;
    this.save();
  }

  /** AlterConfigs: replaces the topic's configs (already validated); segment settings apply from the next append. */
  setConfigs(name: string, configs: Record<string, string>): void {
    const t = this.topics.get(name)!;
    t.meta.configs = configs;
    const o = this.logOptions(t.meta);
    for (const log of t.logs) log.reconfigure({ segmentBytes: o.segmentBytes, segmentMs: o.segmentMs });
    this.save();
  }

  delete(name: string): boolean {
    const t = this.topics.get(name);
    if (!t) return false;
    this.topics.delete(name);
    this.save();
    for (const log of t.logs) log.destroy();
    return true;
  }

  config(t: Topic, key: string): string {
    return t.meta.configs[key] ?? this.defaults[key] ?? '';
  }

  /** Retention and compaction, run periodically. */
  maintain(now = Date.now()): { deletedSegments: number; compactedRecords: number } {
    let deletedSegments = 0;
    let compactedRecords = 0;
    for (const t of this.topics.values()) {
      const policy = this.config(t, 'cleanup.policy');
      for (const log of t.logs) {
        if (policy.includes('delete'))
          deletedSegments += log.applyRetention(now, Number(this.config(t, 'retention.ms')), Number(this.config(t, 'retention.bytes')));
        if (policy.includes('compact')) {
          compactedRecords += log.compact(now, {
            minCleanableDirtyRatio: Number(this.config(t, 'min.cleanable.dirty.ratio')),
            minCompactionLagMs: Number(this.config(t, 'min.compaction.lag.ms')),
            deleteRetentionMs: Number(this.config(t, 'delete.retention.ms')),
          });
        }
      }
    }
    return { deletedSegments, compactedRecords };
  }

  syncAll(): void {
    for (const t of this.topics.values()) for (const log of t.logs) log.syncIfDirty();
  }

  close(): void {
    for (const t of this.topics.values()) for (const log of t.logs) log.close();
    this.topics.clear();
  }
}
