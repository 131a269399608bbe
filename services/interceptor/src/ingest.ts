import { createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateIngestRequest, type AuditEvent, type LifecycleEventInput, type Revocation, type Source } from '@jwt-audit/events';
import { bearerToken, type Verifier } from '@jwt-audit/jwt';
import { baseEvent } from '@jwt-audit/edge';
import type { ErrorDefinition } from '@jwt-audit/runtime';
import { problem, PROBLEMS, sendProblem } from './problem.js';

/**
 * POST /audit/v1/events: identity providers push lifecycle events (issue, refresh, revoke,
 * sign-in/out, key rotation, deprovisioning). Authentication, one of:
 *   X-Audit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
 *     (X-Audit-Key-Id: <id> picks the key; without it every configured key is tried),
 *     accepted while |now - t| <= maxSkewSec (replay window);
 *   Authorization: Bearer <JWT> for the configured ingest audience.
 * Body: one lifecycle event or { events: [...] } (schemas/json/ingest-request.json).
 * 202 { accepted, ids }; 400 problem document naming every bad field; 401; 409; 413; 415; 503.
 *
 * Replay: a body is accepted once. Within the window a signature is valid in (|now - t| <=
 * maxSkewSec in whole seconds, so 2 x maxSkewSec + 1 s in all), every accepted signature and every provider event id
 * (`id`, per principal) is remembered; a repeat gets 409 (`replayed`) naming what was seen.
 * Remembered only once the events were queued (a 503 may be retried as is). The memory is
 * bounded (`replayCacheSize` entries, least recently used dropped first): a flood of distinct
 * valid bodies larger than that could push an entry out early, so size it above the signed
 * requests of 2 x maxSkewSec.
 */

export interface IngestOptions {
  hmacKeys: Array<{ id: string; secret: string }>;
  /** verifier for ingest JWTs (its audience is the ingest audience); undefined = JWT auth off */
  verifier?: Verifier;
  maxBodyBytes: number;
  maxSkewSec: number;
  /** Signatures and event ids remembered for replay detection; default 100 000. */
  replayCacheSize?: number;
  source: Source;
  publish(events: AuditEvent[], revocations: Revocation[]): boolean;
  canAccept(): boolean;
  onResult?(status: number, events: number): void;
  now?: () => number;
}

export function signIngestBody(secret: string, body: string | Buffer, t = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
  return `t=${t},v1=${mac}`;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      req.resume();
      resolve('too_large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too_large');
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function checkSignature(
  header: string,
  keyId: string | undefined,
  body: Buffer,
  keys: IngestOptions['hmacKeys'],
  nowSec: number,
  skew: number,
): string | { mac: string } {
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const v1 = parts.v1;
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return 'malformed signature header';
  if (Math.abs(nowSec - t) > skew) return 'signature timestamp outside the allowed window';
  const given = Buffer.from(v1, 'hex');
  for (const k of keys) {
    if (keyId !== undefined && k.id !== keyId) continue;
    const expected = createHmac('sha256', k.secret).update(`${t}.`).update(body).digest();
    if (timingSafeEqual(expected, given)) return { mac: v1 };
  }
  return 'signature does not match';
}

/** A pushed lifecycle event as an audit event (and a revocation record where it revokes). */
export function toAuditEvent(input: LifecycleEventInput, source: Source, principal: string, now: number): { event: AuditEvent; revocation: Revocation | null } {
  const occurredAt = Date.parse(input.occurredAt);
  const e = baseEvent(
    input.type,
    {
      service: input.source?.service ?? source.service,
      instance: input.source?.instance ?? source.instance,
      environment: input.source?.environment ?? source.environment,
    },
    occurredAt,
    now,
    'success',
    {
      sub: input.subject ?? null,
      clientId: input.clientId ?? null,
      tenant: input.tenant ?? null,
      roles: input.roles ?? [],
      scopes: input.scopes ?? [],
    },
  );
  const t = input.token;
  if (t) {
    e.token = {
      jti: t.jti ?? null,
      sid: t.sid ?? null,
      iss: t.iss ?? null,
      aud: t.aud === undefined ? [] : Array.isArray(t.aud) ? t.aud : [t.aud],
      kid: t.kid ?? null,
      alg: t.alg ?? null,
      iat: t.iat ?? null,
      nbf: t.nbf ?? null,
      exp: t.exp ?? null,
      typ: t.typ ?? 'unknown',
      familyId: t.familyId ?? null,
      fingerprint: t.fingerprint,
      previousFingerprint: t.previousFingerprint ?? null,
    };
  }
  if (input.session) e.session = { id: input.session.id, reason: input.session.reason ?? null };
  if (input.key)
    e.key = { jwksUrl: input.key.jwksUrl ?? null, added: input.key.added ?? [], removed: input.key.removed ?? [], current: input.key.current ?? [] };
  if (input.type === 'key.rotated' && !e.key) e.key = { jwksUrl: null, added: [], removed: [], current: [] };
  e.attributes = { ...(input.attributes ?? {}), 'ingest.principal': principal };
  if (input.id) e.attributes.providerEventId = input.id;
  if (input.reason) e.attributes.reason = input.reason;

  let revocation: Revocation | null = null;
  if (input.type === 'token.revoked' && t?.jti) {
    revocation = { target: 'jti', value: t.jti, revokedAt: occurredAt, expiresAt: t.exp ? t.exp * 1000 : null, reason: input.reason ?? null, eventId: e.id };
  } else if (input.type === 'subject.deprovisioned' && input.subject) {
    revocation = { target: 'subject', value: input.subject, revokedAt: occurredAt, expiresAt: null, reason: input.reason ?? null, eventId: e.id };
  }
  return { event: e, revocation };
}

export function ingestHandler(o: IngestOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = o.now ?? Date.now;
  // value: when the entry stops mattering (ms); ttl checked here with the handler's clock
  const seen = new LRUCache<string, number>({ max: o.replayCacheSize ?? 100_000 });
  // A signature stays valid while floor(now / 1000) is within maxSkewSec of t: to the end of the second
  // t + maxSkewSec, up to (2 x maxSkewSec + 1) s after it was first accepted (a client clock ahead by
  // maxSkewSec, accepted early in its second), so it is remembered that long.
  const windowMs = (2 * o.maxSkewSec + 1) * 1000;
  const wasSeen = (key: string, t: number) => {
    const until = seen.get(key);
    return until !== undefined && until > t;
  };
  const fail = (res: ServerResponse, type: ErrorDefinition, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const p = problem(type, detail, extra);
    o.onResult?.(p.status, 0);
    sendProblem(res, p, headers);
  };
  return async (req, res) => {
    if (req.method !== 'POST') return fail(res, PROBLEMS.AUDIT_ERR_HTTP_METHOD_NOT_ALLOWED, 'use POST', {}, { allow: 'POST' });
    const ct = String(req.headers['content-type'] ?? '');
    if (!/^application\/(json|[\w.+-]+\+json)\s*(;|$)/i.test(ct))
      return fail(res, PROBLEMS.AUDIT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE, 'the body must be application/json');
    const body = await readBody(req, o.maxBodyBytes);
    if (body === 'too_large') {
      res.setHeader('connection', 'close');
      return fail(res, PROBLEMS.AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE, `the body exceeds ${o.maxBodyBytes} bytes`);
    }

    // authentication
    let principal: string | null = null;
    let signature: string | null = null;
    let authError = 'no credentials: send X-Audit-Signature or a Bearer token';
    const sig = req.headers['x-audit-signature'];
    if (typeof sig === 'string' && o.hmacKeys.length > 0) {
      const keyId = typeof req.headers['x-audit-key-id'] === 'string' ? req.headers['x-audit-key-id'] : undefined;
      const checked = checkSignature(sig, keyId, body, o.hmacKeys, Math.floor(now() / 1000), o.maxSkewSec);
      if (typeof checked === 'string') authError = checked;
      else {
        principal = `hmac:${keyId ?? 'any'}`;
        signature = `sig:${checked.mac}`;
      }
    } else if (req.headers.authorization !== undefined && o.verifier) {
      const b = bearerToken(req.headers.authorization);
      if ('token' in b) {
        const v = await o.verifier.verify(b.token);
        if (v.ok) principal = `jwt:${String(v.claims.sub ?? v.claims.client_id ?? 'unknown').slice(0, 128)}`;
        else authError = `token rejected: ${v.reason}`;
      } else authError = 'Authorization is not a Bearer credential';
    }
    if (!principal) return fail(res, PROBLEMS.AUDIT_ERR_HTTP_UNAUTHORIZED, authError, {}, { 'www-authenticate': 'Bearer realm="audit-ingest"' });

    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return fail(res, PROBLEMS.AUDIT_ERR_HTTP_INVALID_JSON, 'the body is not valid JSON', { errors: [{ field: '(root)', message: 'not valid JSON' }] });
    }
    const v = validateIngestRequest(parsed);
    if (!v.ok) {
      const first = v.errors[0];
      return fail(res, PROBLEMS.AUDIT_ERR_HTTP_INVALID_EVENT, first ? `${first.field}: ${first.message}` : 'invalid', { errors: v.errors });
    }
    const t0 = now();
    const replayed: Array<{ field: string; message: string }> = [];
    if (signature && wasSeen(signature, t0)) replayed.push({ field: '(signature)', message: 'this signed body was already accepted' });
    v.events.forEach((input, i) => {
      if (input.id !== undefined && wasSeen(`id:${principal}:${input.id}`, t0))
        replayed.push({
          field: v.events.length === 1 && !Array.isArray((parsed as { events?: unknown }).events) ? 'id' : `events[${i}].id`,
          message: `event ${JSON.stringify(input.id).slice(0, 80)} was already accepted`,
        });
    });
    if (replayed.length > 0) return fail(res, PROBLEMS.AUDIT_ERR_HTTP_REPLAYED, replayed[0]!.message, { errors: replayed });
    if (!o.canAccept())
      return fail(res, PROBLEMS.AUDIT_ERR_HTTP_AUDIT_UNAVAILABLE, 'events cannot be recorded right now; retry later', {}, { 'retry-after': '5' });
    const t = now();
    const events: AuditEvent[] = [];
    const revocations: Revocation[] = [];
    for (const input of v.events) {
      const { event, revocation } = toAuditEvent(input, o.source, principal, t);
      events.push(event);
      if (revocation) revocations.push(revocation);
    }
    if (!o.publish(events, revocations))
      return fail(res, PROBLEMS.AUDIT_ERR_HTTP_AUDIT_UNAVAILABLE, 'the event queue is full; retry later', {}, { 'retry-after': '5' });
    const until = t + windowMs;
    if (signature) seen.set(signature, until);
    for (const input of v.events) if (input.id !== undefined) seen.set(`id:${principal}:${input.id}`, until);
    o.onResult?.(202, events.length);
    const out = JSON.stringify({ accepted: events.length, ids: events.map((e) => e.id) });
    res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
  };
}
