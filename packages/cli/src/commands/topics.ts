import { Writable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { logLevel } from '@jwt-audit/kafka';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { kafkaConnection, kafkaFailure } from '../connections.js';

/**
 * `audit topics list | apply`: the pipeline's topics (partitions, retention, compaction) from the
 * one table in packages/kafka, created on any Kafka the AUDIT_KAFKA_* settings reach. docker-compose
 * runs `topics apply` as its setup step, so the production topics and the embedded defaults cannot
 * drift apart.
 */

function partitions(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected an integer 1..1000');
  return n;
}

export function register(program: Command): void {
  const topics = program.command('topics').description("The pipeline's Kafka topics, from the project's own table");
  topics
    .command('list')
    .description('print the topics the pipeline needs, with partitions and configs (nothing is contacted)')
    .option('--partitions <n>', 'partitions of the partitioned topics', partitions, 6)
    .option('--json', 'JSON output')
    .action((o: { partitions: number; json?: boolean }) => {
      const specs = defaultTopics(o.partitions);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(specs)}\n`);
        return;
      }
      for (const s of specs) {
        const configs = Object.entries(s.configs ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        process.stdout.write(`${s.topic.padEnd(30)} ${String(s.numPartitions).padStart(3)}  ${configs}\n`);
      }
    });
  topics
    .command('apply')
    .description('create the topics that do not exist yet (existing ones are left as they are); idempotent')
    .option('--partitions <n>', 'partitions of the partitioned topics', partitions, 6)
    .option('--brokers <list>', 'Kafka brokers, comma separated (default: AUDIT_KAFKA_BROKERS or 127.0.0.1:9092; SASL and TLS from AUDIT_KAFKA_*)')
    .option('--json', 'JSON output: {"created":[...],"existing":[...]}')
    .action(async (o: { partitions: number; brokers?: string; json?: boolean }) => {
      const conn = kafkaConnection(o.brokers !== undefined ? { brokers: o.brokers } : {});
      const silent = createLogger({ name: 'audit-cli', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      const kafka = createKafkaClient(conn, silent, { logLevel: logLevel.NOTHING, connectionTimeout: 5_000, retry: { retries: 3, initialRetryTime: 300 } });
      const specs = defaultTopics(o.partitions);
      let created: string[];
      try {
        created = await ensureTopics(kafka, specs);
      } catch (err) {
        throw await kafkaFailure(err, 'cannot apply topics', conn);
      }
      const existing = specs.map((s) => s.topic).filter((t) => !created.includes(t));
      if (o.json) process.stdout.write(`${JSON.stringify({ created, existing })}\n`);
      else process.stdout.write(`${created.length > 0 ? `created ${created.join(', ')}` : 'no topic created'}; ${existing.length} already existed\n`);
    });
}
