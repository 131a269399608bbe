import { Command, InvalidArgumentError } from 'commander';
import type { Severity } from '@jwt-audit/events';
import { SEVERITIES, tailAlerts } from '../alerts-tail.js';
import { kafkaConnection, kafkaFailure } from '../connections.js';

function severity(value: string): Severity {
  if (!(SEVERITIES as string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${SEVERITIES.join(', ')}`);
  return value as Severity;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `audit alerts tail`: follow audit.alerts.v1. */
export function register(program: Command): void {
  const alerts = program.command('alerts').description('Anomaly alerts on audit.alerts.v1');
  alerts
    .command('tail')
    .description('Print alerts as they arrive (Ctrl-C to stop)')
    .option('--severity <level>', `minimum severity shown (${SEVERITIES.join(', ')})`, severity)
    .option('--rule <rule>', 'only this rule (repeatable)', collect, [])
    .option('--json', 'one JSON alert per line')
    .option('--from-beginning', 'start from the oldest retained alert instead of new ones')
    .option('--max <n>', 'exit after n alerts', positiveInt)
    .option('--topic <topic>', 'alerts topic', 'audit.alerts.v1')
    .option('--brokers <list>', 'Kafka brokers, comma separated (default: AUDIT_KAFKA_BROKERS or 127.0.0.1:9092; SASL and TLS from AUDIT_KAFKA_*)')
    .action(async (opts: { severity?: Severity; rule: string[]; json?: boolean; fromBeginning?: boolean; max?: number; topic: string; brokers?: string }) => {
      const kafka = kafkaConnection(opts.brokers !== undefined ? { brokers: opts.brokers } : {});
      const brokers = kafka.brokers;
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      // On stderr, so --json output stays clean; without it an empty topic looks like a hang.
      process.stderr.write(`waiting for ${opts.fromBeginning ? '' : 'new '}alerts on ${opts.topic} from ${brokers.join(',')} (Ctrl-C to stop)…\n`);
      try {
        await tailAlerts(
          {
            kafka,
            topic: opts.topic,
            rules: opts.rule,
            json: opts.json ?? false,
            fromBeginning: opts.fromBeginning ?? false,
            ...(opts.severity ? { severity: opts.severity } : {}),
            ...(opts.max ? { max: opts.max } : {}),
          },
          { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`), signal: stop.signal },
        );
      } catch (err) {
        throw await kafkaFailure(err, `cannot read alerts from ${opts.topic}`, kafka);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
