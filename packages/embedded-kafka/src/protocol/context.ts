import type { Logger } from '@jwt-audit/runtime';
import type { GroupCoordinator } from '../group/coordinator.js';
import type { TopicStore } from '../storage/topic-store.js';
import type { FetchSessionCache } from './fetch-sessions.js';
import type { Reader, Writer } from './primitives.js';
import type { SaslSession } from './sasl.js';
import type { TransactionCoordinator } from './transactions.js';

/** What every API handler gets: the broker's state and the requesting client. */
export interface BrokerContext {
  nodeId: number;
  advertisedHost: string;
  advertisedPort: number;
  clusterId: string;
  topics: TopicStore;
  groups: GroupCoordinator;
  /** Transactional ids and their transactions (transactions.ts). */
  txns: TransactionCoordinator;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  /** Broker cap on a Fetch response (Kafka: fetch.max.bytes). */
  fetchMaxBytes: number;
  /** Incremental fetch sessions (KIP-227). */
  fetchSessions: FetchSessionCache;
  logger: Logger;
  /** Creates a topic (used by CreateTopics and auto-creation): a Kafka error code and message. */
  createTopic(name: string, partitions: number, configs: Record<string, string>): { error: number; message: string | null };
  deleteTopic(name: string): number;
  /** CreatePartitions: grows a topic to `count` partitions, all or nothing. */
  addPartitions(name: string, count: number): { error: number; message: string | null };
  /** The broker configs DescribeConfigs reports (read-only). */
  brokerConfigs: Record<string, string>;
  /** Resolves when a record is appended to any partition, or after `ms`. */
  waitForAppend(ms: number, signal: AbortSignal): Promise<void>;
  notifyAppend(): void;
  nextProducerId(): number;
}

export interface RequestMeta {
  apiVersion: number;
  clientId: string | null;
  clientHost: string;
  /** A flexible version (KIP-482): compact strings/arrays/bytes and tagged fields. */
  flexible: boolean;
  /** This connection's SASL exchange, on a listener that requires SASL. */
  sasl?: SaslSession;
}

export type Handler = (r: Reader, w: Writer, meta: RequestMeta, ctx: BrokerContext, signal: AbortSignal) => void | Promise<void>;

export interface ApiDefinition {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** First flexible version (request header v2, response header v1); undefined = none. */
  flexibleVersion?: number;
  handle: Handler;
}
