/**
 * The embedded broker and search node for a test, on port 0 over real TCP/HTTP, in a temporary
 * directory, with the project's topics created; and the stop list every fixture shares.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger, type Logger } from '@jwt-audit/runtime';

/** A logger that writes nothing: fixtures and tests log through it. */
export function silentLogger(name = 'test'): Logger {
  return createLogger({ name, level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}

/** Things to stop, stopped last-in first-out; a failing stop does not keep the others from running. */
export class Stops {
  private readonly list: (() => Promise<unknown> | unknown)[] = [];
  push(stop: () => Promise<unknown> | unknown): void {
    this.list.push(stop);
  }
  async stopAll(): Promise<void> {
    while (this.list.length > 0) await Promise.resolve(this.list.pop()!()).catch(() => undefined);
  }
}

export interface Embedded {
  /** the test's temporary directory (removed by stop) */
  dir: string;
  broker: Broker;
  search: SearchNode;
  brokers: string[];
  esUrl: string;
  /** kafkajs connection settings for one client of the test */
  kafka(clientId: string): { brokers: string[]; clientId: string };
  logger: Logger;
  /** stops the broker and the search node, removes the directory */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** prefix of the temporary directory */
  name: string;
  /** partitions of each project topic (defaultTopics), default 3 */
  partitions?: number;
  logger?: Logger;
}

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  const dir = mkdtempSync(path.join(tmpdir(), `${options.name}-`));
  const logger = options.logger ?? silentLogger(options.name);
  const stops = new Stops();
  stops.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
    stops.push(() => broker.close());
    const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
    stops.push(() => search.close());
    const brokers = [broker.address];
    const kafka = (clientId: string) => ({ brokers, clientId });
    await ensureTopics(createKafkaClient(kafka('setup'), logger), defaultTopics(options.partitions ?? 3));
    return { dir, broker, search, brokers, esUrl: search.url, kafka, logger, stop: () => stops.stopAll() };
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}

type KafkaClient = ReturnType<typeof createKafkaClient>;

/** Records a topic holds: its end offsets summed over partitions. */
export async function topicEnd(kafka: KafkaClient, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Whether every consumer group named has committed up to the end of each of its topics: the
 * positive marker that a stage has handled everything before it (stages commit only after their
 * output is written), so what it writes is all there to read.
 */
export async function caughtUp(kafka: KafkaClient, groups: Record<string, readonly string[]>): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const [groupId, topics] of Object.entries(groups)) {
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const at = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
          if (Number(end.high) > 0 && at < Number(end.high)) return false;
        }
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}
