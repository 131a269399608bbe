/**
 * Events for session tests (the sessionizer's input, audit.enriched.v1): a token use and the
 * lifecycle events that start and end sessions, built on the token.validated example. Shared by
 * the end-to-end sessions test and the console's Sessions page test.
 */
import { newId } from '../ids.js';
import { readSchemaFile } from '../schemas.js';
import type { AuditEvent } from '../types.js';

const example = readSchemaFile('examples/token.validated.json') as AuditEvent;

export interface SessionRequestOptions {
  /** The token's sid; null (the default) for a token without one. */
  sid?: string | null;
  jti?: string;
  /** The token's exp, from `at`. Default 60 min. */
  expInMs?: number;
  ip?: string;
  kind?: AuditEvent['kind'];
  path?: string;
  route?: string;
  status?: number;
  /** A captured request body of this size. */
  bodySize?: number;
}

/** One request by `sub` at `at`: token.validated, or token.rejected (expired) with `kind`. */
export function sessionRequest(sub: string, at: number, o: SessionRequestOptions = {}): AuditEvent {
  const kind = o.kind ?? 'token.validated';
  const http = example.http!;
  return {
    ...example,
    id: newId(),
    kind,
    outcome: kind === 'token.rejected' ? 'failure' : 'success',
    rejection: kind === 'token.rejected' ? { reason: 'expired', detail: null } : null,
    occurredAt: at,
    observedAt: at,
    actor: { ...example.actor, sub },
    token: { ...example.token!, sid: o.sid === undefined ? null : o.sid, jti: o.jti ?? newId(), exp: Math.floor((at + (o.expInMs ?? 3_600_000)) / 1000) },
    network: { ...example.network!, clientIp: o.ip ?? '203.0.113.24' },
    http: {
      request: {
        ...http.request,
        path: o.path ?? http.request.path,
        route: o.route ?? http.request.route,
        body: o.bodySize ? { contentType: 'application/json', size: o.bodySize, truncated: false, content: null, sha256: null } : http.request.body,
      },
      response: { ...http.response!, status: o.status ?? http.response!.status },
    },
  };
}

/** A lifecycle event for `sub` at `at` (a revocation names the jti, a session event its sid and reason). */
export function sessionLifecycle(
  kind: 'session.started' | 'session.ended' | 'token.revoked' | 'subject.deprovisioned',
  sub: string,
  at: number,
  o: { sid?: string; jti?: string; reason?: string } = {},
): AuditEvent {
  return {
    ...example,
    id: newId(),
    kind,
    occurredAt: at,
    observedAt: at,
    actor: { ...example.actor, sub },
    http: null,
    trace: null,
    token: kind === 'token.revoked' ? { ...example.token!, sid: null, jti: o.jti ?? null } : null,
    session: o.sid ? { id: o.sid, reason: o.reason ?? null } : null,
    attributes: o.reason && kind === 'token.revoked' ? { reason: o.reason } : {},
  };
}
