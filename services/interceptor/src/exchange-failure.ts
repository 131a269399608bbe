import { errors as undiciErrors } from 'undici';
import type { AuditEvent, Source } from '@jwt-audit/events';
import { EMPTY_ACTOR, baseEvent, normalizeIp } from '@jwt-audit/edge';

/**
 * Why an exchange failed, as a fixed set of reasons (they label a metric and go on the event as
 * `attributes["proxy.error"]`), and the event for an exchange that failed before the engine had
 * built one (an exception in the decision itself, or a request node refused).
 */
export type FailureReason =
  | 'upstream_timeout'
  | 'upstream_unreachable'
  | 'upstream_malformed_response'
  | 'upstream_headers_too_large'
  | 'upstream_invalid_status'
  | 'upstream_closed'
  | 'upstream_length_mismatch'
  | 'upstream_body_error'
  | 'upstream_failed'
  | 'internal'
  // the client's side, as node's clientError names it (client-errors.ts)
  | 'malformed_request'
  | 'request_header_fields_too_large'
  | 'chunk_extensions_too_large'
  | 'request_timeout'
  | 'client_reset';

/** The reason for an error undici reports for an upstream request (before or during the response). */
export function upstreamFailure(err: unknown): FailureReason {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError)
    return 'upstream_timeout';
  if (err instanceof undiciErrors.HeadersOverflowError) return 'upstream_headers_too_large';
  if (err instanceof undiciErrors.HTTPParserError) return 'upstream_malformed_response';
  if (err instanceof undiciErrors.ResponseContentLengthMismatchError) return 'upstream_length_mismatch';
  if (err instanceof undiciErrors.SocketError) return 'upstream_closed';
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN')
    return 'upstream_unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return 'upstream_closed';
  // undici reports a parse error of the head this way too (llhttp's codes)
  if (typeof code === 'string' && code.startsWith('HPE_')) return 'upstream_malformed_response';
  return 'upstream_failed';
}

export interface FailedRequest {
  startedAt: number;
  method: string;
  path: string;
  query: string | null;
  host: string;
  scheme: string;
  requestId: string | null;
  clientIp: string | null;
  userAgent: string | null;
}

/** An http.exchange for a request answered `status` because of `reason`, from what is known of it (every field bounded). */
export function failureEvent(r: FailedRequest, status: number, reason: string, source: Source, now = Date.now()): AuditEvent {
  const e = baseEvent('http.exchange', source, r.startedAt, now, 'failure', EMPTY_ACTOR);
  e.http = {
    request: {
      id: r.requestId?.slice(0, 128) ?? null,
      method: r.method.slice(0, 16),
      scheme: r.scheme,
      host: r.host.slice(0, 256),
      path: r.path.slice(0, 2048),
      route: null,
      query: r.query?.slice(0, 2048) ?? null,
      headers: {},
      body: null,
    },
    response: { status, headers: {}, body: null, latencyMs: Math.max(0, now - r.startedAt) },
  };
  e.network = { clientIp: normalizeIp(r.clientIp ?? undefined), forwardedFor: [], userAgent: r.userAgent?.slice(0, 512) ?? null };
  e.attributes = { 'proxy.error': reason };
  return e;
}
