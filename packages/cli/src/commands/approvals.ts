import { Writable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { logLevel, type Kafka } from '@jwt-audit/kafka';
import { TOPICS, approvalCodec, eventCodec, newId, partitionKey, type ApprovalRecord } from '@jwt-audit/events';
import { ApprovalBook, approvalEvent, approvalKey, checkDecision, type ApprovalView } from '@jwt-audit/edge';
import { createKafkaClient } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { kafkaConnection, kafkaFailure } from '../connections.js';
import { EXIT } from '../program.js';
import { cliError, CLI_ERRORS } from '../errors.js';

/**
 * `audit approve <id>` / `audit deny <id> --reason <why>`: decides a just-in-time approval the
 * interceptor asked for (services/interceptor, approvals.ts). Reads audit.approvals.v1 to its
 * end (a throwaway consumer group, nothing committed) and folds it as every interceptor does
 * (packages/edge approval-state.ts), so what it refuses the interceptors would ignore: an unknown
 * id, the requester deciding their own request, an approval no longer pending, the same approver
 * twice. Then it writes the decision (key dec:<id>:<approver>) and its audit event
 * (approval.granted / approval.denied on audit.raw.v1).
 *
 * The approver is `--approver` (or AUDIT_APPROVER). What makes it believable is who may write to
 * audit.approvals.v1: the Kafka credentials the command runs with (AUDIT_KAFKA_SASL_*), which a
 * production ACL gives to approvers only; the decision records that principal's name as the
 * approver it was told.
 *
 * Exit codes: 0 decided; 1 refused (unknown, self-approval, not pending, already decided);
 * 2 usage; 3 Kafka unreachable.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function approvalId(value: string): string {
  const id = value.trim().toLowerCase();
  if (!UUID.test(id)) throw new InvalidArgumentError('expected an approval id (a UUID, as the 403 problem and the alert give it)');
  return id;
}

const silent = () => createLogger({ name: 'audit-cli', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** Reads audit.approvals.v1 to its end into a fold. */
export async function readApprovals(kafka: Kafka, timeoutMs = 15_000): Promise<ApprovalBook> {
  const book = new ApprovalBook();
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(TOPICS.approvals)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (pending.size === 0) return book;
  const consumer = kafka.consumer({ groupId: `audit-cli-approvals-${newId()}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [TOPICS.approvals], fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          try {
            book.apply(m.key?.toString() ?? '', m.value === null ? null : approvalCodec.decode(m.value, m.headers as Record<string, Buffer>));
          } catch {
            // an undecodable record is skipped, as the interceptors skip it
          }
        }
        if (BigInt(batch.lastOffset()) + 1n >= ends.get(batch.partition)!) {
          pending.delete(batch.partition);
          if (pending.size === 0) done();
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(CLI_ERRORS.AUDIT_ERR_CLI_UNAVAILABLE.create(`${TOPICS.approvals} not read to its end within ${timeoutMs / 1000} s`)),
            timeoutMs,
          )),
      ),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return book;
}

export interface DecisionResult {
  ok: boolean;
  approvalId: string;
  decision: 'granted' | 'denied';
  approver: string;
  /** Why it was refused (ok false): unknown_approval, self_approval, not_pending, already_decided. */
  code?: string;
  detail?: string;
  status?: ApprovalView['status'];
  requester?: string;
  approvers?: string[];
  approversRequired?: number;
  method?: string;
  path?: string;
}

/** Checks and writes one decision (what `audit approve|deny` does), on a connected client. */
export async function decideApproval(
  kafka: Kafka,
  d: { id: string; approver: string; decision: 'granted' | 'denied'; reason: string | null; instance?: string; now?: () => number },
): Promise<DecisionResult> {
  const now = d.now ?? Date.now;
  const book = await readApprovals(kafka);
  const check = checkDecision(book, d.id, d.approver, now());
  const base = { approvalId: d.id, decision: d.decision, approver: d.approver };
  if (!check.ok) {
    const v = check.view;
    return { ...base, ok: false, code: check.code, detail: check.detail, ...(v ? { status: v.status, requester: v.request.requester } : {}) };
  }
  const at = now();
  const record: ApprovalRecord = { approvalId: d.id, schemaVersion: 1, step: d.decision, at, by: d.approver, reason: d.reason, request: null };
  book.apply(approvalKey(record), record);
  const view = book.get(d.id, at)!;
  const event = approvalEvent(d.decision === 'granted' ? 'approval.granted' : 'approval.denied', view, {
    source: { service: 'audit-cli', instance: d.instance ?? 'audit-cli', environment: process.env.AUDIT_ENVIRONMENT ?? 'dev' },
    actor: { sub: d.approver, clientId: null, tenant: null, roles: [], scopes: [] },
    at,
    reason: d.reason,
    via: 'cli',
  });
  const rec = approvalCodec.encode(record);
  const ev = eventCodec.encode(event);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    // the decision first: it is what releases the request; its audit event right after
    await producer.send({ topic: TOPICS.approvals, acks: -1, messages: [{ key: approvalKey(record), value: rec.value, headers: rec.headers }] });
    await producer.send({ topic: TOPICS.raw, acks: -1, messages: [{ key: partitionKey(event), value: ev.value, headers: ev.headers }] });
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return {
    ...base,
    ok: true,
    status: view.status,
    requester: view.request.requester,
    approvers: view.approvers,
    approversRequired: view.request.approversRequired,
    method: view.request.method,
    path: view.request.path,
  };
}

interface Flags {
  approver?: string;
  reason?: string;
  brokers?: string;
  json?: boolean;
}

async function run(id: string, decision: 'granted' | 'denied', o: Flags): Promise<void> {
  const approver = (o.approver ?? process.env.AUDIT_APPROVER ?? '').trim();
  if (approver === '' || approver.length > 256 || /[\u0000-\u001f\u007f]/.test(approver))
    throw cliError(EXIT.usage, '--approver <name> (or AUDIT_APPROVER) is required: who decides, 1-256 characters');
  const reason = o.reason?.trim() || null;
  if (decision === 'denied' && reason === null) throw cliError(EXIT.usage, '--reason <why> is required to deny');
  if (reason !== null && reason.length > 1024) throw cliError(EXIT.usage, '--reason is longer than 1024 characters');
  const conn = kafkaConnection(o.brokers !== undefined ? { brokers: o.brokers } : {});
  const kafka = createKafkaClient(conn, silent(), { logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 2, initialRetryTime: 200 } });
  let result: DecisionResult;
  try {
    result = await decideApproval(kafka, { id, approver, decision, reason });
  } catch (err) {
    throw await kafkaFailure(err, `cannot ${decision === 'granted' ? 'approve' : 'deny'} ${id}`, conn);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (!result.ok) process.stderr.write(`audit: ${result.detail} (${result.code})\n`);
  else if (decision === 'denied') process.stdout.write(`denied ${id} (${result.method} ${result.path} by ${result.requester})\n`);
  else if (result.status === 'granted')
    process.stdout.write(`approved ${id} (${result.method} ${result.path} by ${result.requester}): ${result.approvers!.join(', ')}\n`);
  else process.stdout.write(`approval ${id} recorded for ${approver}: ${result.approvers!.length} of ${result.approversRequired} approvers; still pending\n`);
  if (!result.ok) process.exitCode = EXIT.failed;
}

export function register(program: Command): void {
  const common = (c: Command) =>
    c
      .option('--approver <name>', 'who decides (default: AUDIT_APPROVER); never the requester')
      .option(
        '--brokers <list>',
        'Kafka brokers, comma separated (default: AUDIT_KAFKA_BROKERS or 127.0.0.1:9092; SASL and TLS from AUDIT_KAFKA_*: the credential that may write decisions)',
      )
      .option('--json', 'JSON output: {"ok","approvalId","decision","approver","status","requester","approvers",...} or {"ok":false,"code","detail"}');
  common(
    program
      .command('approve')
      .description('approve a request the interceptor holds or ticketed (exit 1: unknown id, your own request, not pending, already approved by you)')
      .argument('<id>', 'the approval id (from the 403 problem, the alert or the webhook)', approvalId),
  )
    .option('--reason <why>', 'why (kept in the audit event)')
    .action((id: string, o: Flags) => run(id, 'granted', o));
  common(
    program
      .command('deny')
      .description('deny a request the interceptor holds or ticketed (exit 1 as for approve)')
      .argument('<id>', 'the approval id', approvalId),
  )
    .requiredOption('--reason <why>', 'why (required; the requester and the audit trail see it)')
    .action((id: string, o: Flags) => run(id, 'denied', o));
}
