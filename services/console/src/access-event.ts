import { eventCodec, newId, partitionKey, TOPICS, type AuditEvent } from '@jwt-audit/events';
import type { AuditProducer } from '@jwt-audit/kafka';
import type { Logger } from '@jwt-audit/runtime';
import type { User } from './auth.js';

/**
 * `audit.access`: who looked at what in the audit log. Every search, event view, timeline, alert
 * list, export and proof download the console serves is one, published onto audit.raw.v1 like any
 * event from the edge, so the masker, enricher, indexer and archiver treat it as they treat the
 * rest: who read the audit log is itself in the audit log.
 *
 * Fields (existing ones; no new Avro field): actor = the signed-in user (sub, the permissions
 * granted as roles, client id `jwt-audit-console`); session.id = a digest of the console session
 * (never the cookie); http = the console request (method, path, route `console.<what>`, query
 * string, status, latency); network = the reader's address and user agent; attributes:
 *   access.action   search | event | timeline | sessions (the list) | alerts | integrity | proof | export | sign-in | sign-out
 *                   | approvals (the list) | approve | deny (a decision; target `approval:<id>`)
 *                   | replay-dry-run | replay (a session replayed to the console's test instance; results = requests)
 *   access.target   what was looked at: `event:<id>`, `subject:<sub>`, `session:<id>`, `family:<id>`,
 *                   `summary:<session id>` (a session's timeline from the Sessions page), `sessions` ...
 *   access.query    the query string typed in the search box (masked by the masker like any text)
 *   access.results  how many events the answer held
 *   access.method   how the user signed in: jwt | demo
 */
export type AccessAction =
  | 'search'
  | 'event'
  | 'timeline'
  | 'sessions'
  | 'alerts'
  | 'integrity'
  | 'proof'
  | 'export'
  | 'sign-in'
  | 'sign-out'
  | 'approvals'
  | 'approve'
  | 'deny'
  | 'replay-dry-run'
  | 'replay';

export interface AccessFacts {
  user: User | { sub: string | null; permissions: string[]; method: 'jwt' | 'demo'; sessionRef: string | null };
  action: AccessAction;
  target?: string;
  query?: string;
  results?: number;
  method: string;
  path: string;
  queryString: string | null;
  status: number;
  latencyMs: number;
  clientIp: string | null;
  userAgent: string | null;
  host: string;
}

export const CONSOLE_CLIENT_ID = 'jwt-audit-console';

export function accessEvent(f: AccessFacts, source: AuditEvent['source'], now: number): AuditEvent {
  const attributes: Record<string, string> = { 'access.action': f.action, 'access.method': f.user.method };
  if (f.target !== undefined) attributes['access.target'] = f.target;
  if (f.query !== undefined && f.query !== '') attributes['access.query'] = f.query;
  if (f.results !== undefined) attributes['access.results'] = String(f.results);
  return {
    id: newId(),
    schemaVersion: 4,
    approval: null,
    kind: 'audit.access',
    occurredAt: now - Math.round(f.latencyMs),
    observedAt: now,
    source,
    outcome: f.status < 400 ? 'success' : 'failure',
    actor: { sub: f.user.sub, clientId: CONSOLE_CLIENT_ID, tenant: null, roles: [...f.user.permissions], scopes: [] },
    token: null,
    rejection: null,
    key: null,
    session: f.user.sessionRef ? { id: f.user.sessionRef, reason: null } : null,
    http: {
      request: {
        id: null,
        method: f.method,
        scheme: 'http',
        host: f.host,
        path: f.path,
        route: `console.${f.action}`,
        query: f.queryString,
        headers: {},
        body: null,
      },
      response: { status: f.status, headers: {}, body: null, latencyMs: f.latencyMs },
    },
    network: { clientIp: f.clientIp, forwardedFor: [], userAgent: f.userAgent },
    trace: null,
    masking: null,
    enrichment: null,
    attributes,
  };
}

/**
 * Publishes access events without holding up a page: a bounded queue drained by one sender. A
 * send that fails is retried with the next batch; when the queue is full (Kafka away for long) the
 * oldest are dropped and counted, and the count is logged, so the loss is never silent.
 */
export interface AccessLog {
  record(e: AuditEvent): void;
  /** Resolves when every event recorded so far was sent (or dropped). */
  flush(): Promise<void>;
  readonly dropped: number;
  readonly sent: number;
  stop(): Promise<void>;
}

const MAX_QUEUE = 10_000;

export function createAccessLog(producer: AuditProducer | undefined, logger: Logger): AccessLog {
  const log = logger.child({ component: 'access-log' });
  let queue: AuditEvent[] = [];
  let dropped = 0;
  let sent = 0;
  let running: Promise<void> | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const drain = async (): Promise<void> => {
    while (queue.length > 0 && producer && !stopped) {
      const batch = queue.slice(0, 500);
      try {
        await producer.send(
          TOPICS.raw,
          batch.map((e) => {
            const { value, headers } = eventCodec.encode(e);
            return { key: partitionKey(e), value, headers, timestamp: e.observedAt };
          }),
        );
        queue = queue.slice(batch.length);
        sent += batch.length;
      } catch (err) {
        log.warn({ err: (err as Error).message, queued: queue.length }, 'cannot publish access events yet; retrying in 2 s');
        retry = setTimeout(() => kick(), 2_000);
        return;
      }
    }
  };
  const kick = () => {
    if (running) return running;
    running = drain().finally(() => (running = undefined));
    return running;
  };
  return {
    record(e) {
      queue.push(e);
      if (queue.length > MAX_QUEUE) {
        const n = queue.length - MAX_QUEUE;
        queue = queue.slice(n);
        dropped += n;
        log.error({ dropped }, 'access event queue full: oldest access events dropped');
      }
      void kick();
    },
    async flush() {
      while (queue.length > 0 && producer && !stopped) {
        await kick();
        if (queue.length > 0) await new Promise((r) => setTimeout(r, 50));
      }
    },
    get dropped() {
      return dropped;
    },
    get sent() {
      return sent;
    },
    async stop() {
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 5_000))]);
      stopped = true;
      if (retry) clearTimeout(retry);
      if (queue.length > 0) log.error({ lost: queue.length }, 'access events not published at stop');
    },
  };
}
