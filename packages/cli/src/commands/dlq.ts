import { Writable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { logLevel } from '@jwt-audit/kafka';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { EXIT } from '../program.js';
import { kafkaConnection, kafkaFailure } from '../connections.js';
import { cliError } from '../errors.js';

/**
 * `audit dlq replay`: re-injects dead letters into the topic they came from, once the cause is
 * fixed (a masking policy that refused them, a mapping, a bug). Exit 0: every matching letter was
 * re-injected (or would be, --dry-run); 1: some matching letters cannot be replayed (payload
 * dropped or masked), the others were; 2: usage; 3: Kafka unreachable.
 */

function offset(name: string) {
  return (v: string) => {
    if (!/^\d{1,15}$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(v);
  };
}

function positive(v: string): number {
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('--limit must be a positive integer');
  return Number(v);
}

interface ReplayFlags {
  brokers?: string;
  topic?: string;
  stage?: string;
  code?: string;
  reason?: string;
  fromOffset?: number;
  toOffset?: number;
  limit?: number;
  dryRun?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const dlq = program.command('dlq').description(`Dead letters (${TOPICS.dlq}): records a stage could never process`);
  dlq
    .command('replay')
    .description(
      `re-inject dead letters into their origin topic (original key, headers and bytes, plus audit-replayed-from: <letter id>); letters whose payload was dropped or masked are reported, never re-injected`,
    )
    .option('--topic <name>', 'only letters from this origin topic (e.g. audit.raw.v1)')
    .option('--stage <name>', 'only letters of this stage (masker, enricher, indexer ...)')
    .option('--code <code>', 'only letters with this error code (e.g. AUDIT_ERR_UNDECODABLE)')
    .option('--reason <text>', 'only letters whose reason contains this text (case-insensitive)')
    .option('--from-offset <n>', 'only letters at or after this DLQ offset', offset('--from-offset'))
    .option('--to-offset <n>', 'only letters at or before this DLQ offset', offset('--to-offset'))
    .option('--limit <n>', 'at most this many matching letters', positive)
    .option('--dry-run', 'list what would be re-injected; produce nothing')
    .option('--brokers <list>', 'Kafka brokers, comma separated (default: AUDIT_KAFKA_BROKERS or 127.0.0.1:9092; SASL and TLS from AUDIT_KAFKA_*)')
    .option('--json', 'JSON output: {"dryRun","read","matched","replayed","notReplayable","letters":[...]}')
    .action(async (o: ReplayFlags) => {
      if (o.fromOffset !== undefined && o.toOffset !== undefined && o.fromOffset > o.toOffset) {
        throw cliError(EXIT.usage, '--from-offset is after --to-offset');
      }
      const conn = kafkaConnection(o.brokers !== undefined ? { brokers: o.brokers } : {});
      const silent = createLogger({ name: 'audit-cli', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      const kafka = createKafkaClient(conn, silent, { logLevel: logLevel.NOTHING, connectionTimeout: 5_000, retry: { retries: 3, initialRetryTime: 300 } });
      // loaded here: the start of every other command does not pay for the events codecs
      const { replayDeadLetters } = await import('../dlq-replay.js');
      let report;
      try {
        report = await replayDeadLetters(
          kafka,
          silent,
          {
            ...(o.topic !== undefined ? { topic: o.topic } : {}),
            ...(o.stage !== undefined ? { stage: o.stage } : {}),
            ...(o.code !== undefined ? { code: o.code } : {}),
            ...(o.reason !== undefined ? { reason: o.reason } : {}),
            ...(o.fromOffset !== undefined ? { fromOffset: o.fromOffset } : {}),
            ...(o.toOffset !== undefined ? { toOffset: o.toOffset } : {}),
          },
          { dryRun: o.dryRun === true, ...(o.limit !== undefined ? { limit: o.limit } : {}) },
        );
      } catch (err) {
        throw await kafkaFailure(err, `cannot replay from ${TOPICS.dlq}`, conn);
      }
      if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        for (const l of report.letters) {
          const what =
            l.action === 'not_replayable'
              ? `not replayable: ${l.why}`
              : l.action === 'would_replay'
                ? `would replay to ${l.originTopic}`
                : `replayed to ${l.originTopic}`;
          process.stdout.write(
            `dlq@${l.dlqPartition}:${l.dlqOffset}  ${l.stage.padEnd(10)} ${l.code.padEnd(28)} ${l.originTopic}[${l.originPartition}]@${l.originOffset}  ${what}\n`,
          );
        }
        process.stderr.write(
          `${report.matched} of ${report.read} dead letters matched; ${report.dryRun ? `${report.matched - report.notReplayable} would be replayed` : `${report.replayed} replayed`}, ${report.notReplayable} not replayable\n`,
        );
      }
      if (report.notReplayable > 0) process.exitCode = EXIT.failed;
    });
}
