import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { TOPICS, alertCodec, type Alert } from '@jwt-audit/events';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createInterceptor, signCallbackBody } from '../index.js';
import { collectEvents, quietLogger, startEchoUpstream, startTestAuthServer, testConfig } from './harness.js';

export const CALLBACK_SECRET = 'approval-callback-secret-of-32-bytes-or-more';
export const CALLBACK = '/audit/v1/approvals/callback';

/**
 * Two interceptors sharing one embedded broker, in front of one echo upstream, with approval
 * rules of both modes; readers of audit.raw.v1 and audit.alerts.v1; helpers to send requests,
 * signed callbacks and `audit` command lines.
 */
export async function startApprovalStack() {
  const logger = quietLogger();
  const dir = await mkdtemp(path.join(tmpdir(), 'approvals-'));
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka);
  const auth = await startTestAuthServer();
  const upstream = await startEchoUpstream();
  const config = (n: string) =>
    testConfig({
      brokers: [broker.address],
      spoolDir: path.join(dir, `spool-${n}`),
      jwksUrl: auth.jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
      upstreams: { api: upstream.url },
      routes: [
        {
          name: 'admin',
          path: '/api/admin/*',
          upstream: 'api',
          approvals: [
            {
              name: 'admin-delete',
              mode: 'ticket',
              methods: ['DELETE'],
              decideSec: 120,
              validSec: 120,
              reason: 'deleting admin objects needs a second person',
            },
          ],
        },
        {
          name: 'payments',
          path: '/api/payments',
          upstream: 'api',
          methods: ['POST'],
          approvals: [{ name: 'large-payment', mode: 'hold', body: { field: 'amount', above: 1000 }, holdSec: 30 }],
        },
        { name: 'slow', path: '/api/slow', upstream: 'api', methods: ['POST'], approvals: [{ name: 'slow', mode: 'hold', holdSec: 1 }] },
        { name: 'dual', path: '/api/dual/*', upstream: 'api', approvals: [{ name: 'dual', mode: 'ticket', approvers: 2, methods: ['POST'] }] },
        { name: 'api', path: '/api/*', upstream: 'api' },
      ],
      approvals: {
        enabled: true,
        startupTimeoutMs: 10_000,
        callback: { path: CALLBACK, hmacKeys: [{ id: 'chat', secret: CALLBACK_SECRET }], maxSkewSec: 300, maxBodyBytes: 4_096 },
      },
    });
  const a = createInterceptor(config('a'), { logger });
  const b = createInterceptor(config('b'), { logger });
  const urlA = (await a.start()).url;
  const urlB = (await b.start()).url;
  const raw = await collectEvents(kafka, TOPICS.raw);
  const alerts: Alert[] = [];
  const consumer = kafka.consumer({ groupId: `alerts-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.alerts], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void alerts.push(alertCodec.decode(message.value!, message.headers as Record<string, Buffer>)) });

  const send = async (base: string, method: string, p: string, o: { sub?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${await auth.sign({ sub: o.sub ?? 'alice' })}`,
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...o.headers,
      },
      ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
  };
  const callback = (body: unknown, o: { secret?: string; t?: number; sig?: string; contentType?: string } = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return fetch(`${urlB}${CALLBACK}`, {
      method: 'POST',
      headers: {
        'content-type': o.contentType ?? 'application/json',
        'x-audit-signature': o.sig ?? signCallbackBody(o.secret ?? CALLBACK_SECRET, text, o.t ?? Date.now()),
      },
      body: text,
    });
  };
  return {
    broker,
    kafka,
    auth,
    upstream,
    a,
    b,
    urlA,
    urlB,
    raw,
    alerts,
    send,
    callback,
    seenUpstream: (p: string) => upstream.seen.filter((s) => s.url === p),
    events: (id: string, kind: string) => raw.events.filter((e) => e.kind === kind && e.approval?.id === id),
    async stop() {
      await consumer.disconnect();
      await raw.stop();
      await a.stop();
      await b.stop();
      await auth.close();
      await upstream.close();
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const ROOT = path.resolve(import.meta.dirname, '../../../..');

/** One `audit` command line in its own process (the real bin, from source). */
export function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/cli/src/bin.ts', ...args],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
