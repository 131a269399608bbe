/**
 * For tests and the bench: audit events as the pipeline makes them (a login with its refresh
 * token, requests, a refresh, a reuse of the same refresh token from elsewhere, a rejection) and
 * the refresh-token-reuse alert, written into the data streams through the indexer's own
 * templates and ECS mapping, on the embedded search node.
 */
import type { Client } from '@elastic/elasticsearch';
import { eventCodec, TOPICS } from '@jwt-audit/events';
import type { Kafka } from '@jwt-audit/kafka';
import { alertsDataStream, alertToEcsDocument, eventsDataStream, toEcsDocument, withIndexTimes } from '@jwt-audit/ecs';
import { newId, type Alert, type AuditEvent } from '@jwt-audit/events';

const hex = (s: string) => Buffer.from(s.padEnd(32, '0').slice(0, 32)).toString('hex');

export function event(
  kind: AuditEvent['kind'],
  at: number,
  o: {
    sub?: string;
    outcome?: AuditEvent['outcome'];
    path?: string;
    status?: number;
    typ?: 'access' | 'refresh';
    fp?: string;
    prev?: string;
    family?: string;
    sid?: string;
    ip?: string;
    reason?: AuditEvent['rejection'] extends infer R ? (R extends { reason: infer X } ? X : never) : never;
    body?: string;
    rules?: string[];
    clientId?: string;
    route?: string;
  } = {},
): AuditEvent {
  const e: AuditEvent = {
    id: newId(),
    schemaVersion: 4,
    approval: null,
    kind,
    occurredAt: at,
    observedAt: at + 2,
    source: { service: 'interceptor', instance: 'edge-1', environment: 'test' },
    outcome: o.outcome ?? 'success',
    actor: { sub: o.sub ?? null, clientId: o.clientId ?? 'web-portal', tenant: null, roles: [], scopes: ['orders:read'] },
    token: o.fp
      ? {
          jti: newId(),
          sid: o.sid ?? null,
          iss: 'https://idp.test/',
          aud: ['demo-api'],
          kid: 'k1',
          alg: 'RS256',
          iat: Math.floor(at / 1000),
          nbf: null,
          exp: Math.floor(at / 1000) + 900,
          typ: o.typ ?? 'access',
          familyId: o.family ?? null,
          fingerprint: hex(o.fp),
          previousFingerprint: o.prev ? hex(o.prev) : null,
        }
      : null,
    rejection: o.reason ? { reason: o.reason, detail: null } : null,
    key: null,
    session: o.sid ? { id: o.sid, reason: null } : null,
    http: o.path
      ? {
          request: {
            id: null,
            method: 'GET',
            scheme: 'http',
            host: 'api.test',
            path: o.path,
            route: o.route ?? 'orders',
            query: null,
            headers: {},
            body: o.body ? { contentType: 'application/json', size: o.body.length, truncated: false, content: o.body, sha256: null } : null,
          },
          response: { status: o.status ?? 200, headers: {}, body: null, latencyMs: 12 },
        }
      : null,
    network: { clientIp: o.ip ?? '198.51.100.7', forwardedFor: [], userAgent: 'test-agent/1.0' },
    trace: null,
    masking: o.rules ? { rulesApplied: o.rules, policyVersion: 'p1', keyId: 'test' } : null,
    enrichment: null,
    attributes: {},
  };
  return e;
}

export function reuseAlert(at: number, sub: string, family: string, evidence: string[]): Alert {
  return {
    id: newId(),
    schemaVersion: 1,
    rule: 'refresh-token-reuse',
    severity: 'critical',
    keys: { subject: sub, jti: null, ip: '203.0.113.66', clientId: 'web-portal', familyId: family, sessionId: null },
    window: { sizeMs: 0, start: at, end: at },
    count: 1,
    suppressed: 0,
    firstSeen: at,
    lastSeen: at,
    raisedAt: at + 5,
    evidence,
    description: `refresh token of family ${family} presented again after it was exchanged`,
    attributes: {},
  };
}

/** A session as the demo plays it: login, requests, a refresh, the stolen refresh token replayed, a rejection. */
export function reuseStory(t0: number, sub = 'alice', family = 'fam-1', sid = 'sess-1'): { events: AuditEvent[]; alerts: Alert[] } {
  const issuedR = event('token.issued', t0, { sub, typ: 'refresh', fp: 'r1', family, sid });
  const issuedA = event('token.issued', t0, { sub, typ: 'access', fp: 'a1', family, sid });
  const req1 = event('token.validated', t0 + 1_000, {
    sub,
    path: '/api/orders',
    fp: 'a1',
    sid,
    body: '{"card":"[redacted:card]","email":"hmac:test:0123456789abcdef0123456789abcdef"}',
    rules: ['detector:card:redact', 'detector:email:hash'],
  });
  const refresh = event('token.refreshed', t0 + 60_000, { sub, typ: 'refresh', fp: 'r2', prev: 'r1', family, sid });
  const req2 = event('token.validated', t0 + 61_000, { sub, path: '/api/orders/7', fp: 'a2', sid });
  const reuse = event('token.refreshed', t0 + 120_000, { sub, typ: 'refresh', fp: 'r3', prev: 'r1', family, sid, ip: '203.0.113.66' });
  const rejected = event('token.rejected', t0 + 125_000, {
    sub,
    outcome: 'failure',
    path: '/api/admin',
    status: 401,
    fp: 'a3',
    reason: 'revoked',
    sid,
    ip: '203.0.113.66',
  });
  const events = [issuedR, issuedA, req1, refresh, req2, reuse, rejected];
  return { events, alerts: [reuseAlert(t0 + 120_000, sub, family, [refresh.id, reuse.id])] };
}

export async function indexAll(es: Client, namespace: string, events: AuditEvent[], alerts: Alert[] = []): Promise<void> {
  const now = new Date().toISOString();
  const ops: object[] = [];
  for (const e of events) ops.push({ create: { _index: eventsDataStream(namespace), _id: e.id } }, withIndexTimes(toEcsDocument(e), now, namespace));
  for (const a of alerts) ops.push({ create: { _index: alertsDataStream(namespace), _id: a.id } }, withIndexTimes(alertToEcsDocument(a), now, namespace));
  for (let i = 0; i < ops.length; i += 10_000) {
    const r = await es.bulk({ operations: ops.slice(i, i + 10_000), refresh: false });
    if (r.errors) throw new Error(`bulk: ${JSON.stringify(r.items.find((x) => Object.values(x)[0]?.error))}`);
  }
  await es.indices.refresh({ index: 'logs-jwt_audit.*' });
}

/**
 * The events on audit.raw.v1 (the console's audit.access among them) once `done` holds for them,
 * read by a fresh consumer group from the beginning; throws naming `what` after `ms`.
 */
export async function rawEventsWhen(kafka: Kafka, what: string, done: (events: AuditEvent[]) => boolean, ms = 60_000): Promise<AuditEvent[]> {
  const consumer = kafka.consumer({ groupId: `raw-reader-${newId()}`, maxWaitTimeInMs: 100 });
  const seen: AuditEvent[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [TOPICS.raw], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(eventCodec.decode(message.value!, message.headers)) });
    const end = Date.now() + ms;
    while (!done(seen)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what} on ${TOPICS.raw} (${seen.length} events read)`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return seen;
  } finally {
    await consumer.disconnect();
  }
}
