import type { FieldError } from '@jwt-audit/events';
import { defineErrors, type ErrorDefinition } from '@jwt-audit/runtime';

/** RFC 9457 problem details. `type` URIs are stable and listed in the interceptor README. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  [k: string]: unknown;
}

const BASE = 'https://jwt-audit.dev/problems/';

/**
 * Every problem type the edge and the interceptor answer with, in one table: the code, the title
 * (the catalogue's message), the status and the type URI. The interceptor README lists them all
 * (a test checks it). A type answered with more than one status (invalid-token: 401, or 400 for a
 * malformed Authorization header) has its usual status here; problem() takes the other.
 */
export const PROBLEMS = defineErrors({
  // authentication (RFC 6750)
  AUDIT_ERR_HTTP_UNAUTHORIZED: { message: 'Authentication required', status: 401, type: `${BASE}unauthorized` },
  AUDIT_ERR_HTTP_INVALID_TOKEN: { message: 'Invalid token', status: 401, type: `${BASE}invalid-token` },
  AUDIT_ERR_HTTP_INSUFFICIENT_SCOPE: { message: 'Insufficient scope', status: 403, type: `${BASE}insufficient-scope` },
  // routing and CORS
  AUDIT_ERR_HTTP_BAD_PATH: { message: 'Bad request target', status: 400, type: `${BASE}bad-path` },
  AUDIT_ERR_HTTP_NO_ROUTE: { message: 'Not found', status: 404, type: `${BASE}no-route` },
  AUDIT_ERR_HTTP_METHOD_NOT_ALLOWED: { message: 'Method not allowed', status: 405, type: `${BASE}method-not-allowed` },
  AUDIT_ERR_HTTP_METHOD_NOT_IMPLEMENTED: { message: 'Not implemented', status: 501, type: `${BASE}method-not-implemented` },
  AUDIT_ERR_HTTP_PREFLIGHT_REFUSED: { message: 'CORS preflight refused', status: 403, type: `${BASE}preflight-refused` },
  // the audit trail itself
  AUDIT_ERR_HTTP_AUDIT_UNAVAILABLE: { message: 'Audit trail unavailable', status: 503, type: `${BASE}audit-unavailable`, retriable: true },
  AUDIT_ERR_HTTP_TOO_MANY_CONNECTIONS: { message: 'Too many connections', status: 503, type: `${BASE}too-many-connections`, retriable: true },
  // requests node or the proxy cannot take
  AUDIT_ERR_HTTP_BAD_REQUEST: { message: 'Bad request', status: 400, type: `${BASE}bad-request` },
  AUDIT_ERR_HTTP_REQUEST_TIMEOUT: { message: 'Request timeout', status: 408, type: `${BASE}request-timeout`, retriable: true },
  AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE: { message: 'Payload too large', status: 413, type: `${BASE}payload-too-large` },
  AUDIT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: { message: 'Unsupported media type', status: 415, type: `${BASE}unsupported-media-type` },
  AUDIT_ERR_HTTP_HEADER_FIELDS_TOO_LARGE: { message: 'Request header fields too large', status: 431, type: `${BASE}request-header-fields-too-large` },
  AUDIT_ERR_HTTP_INTERNAL: { message: 'Internal error', status: 500, type: `${BASE}internal`, retriable: true },
  // the upstream
  AUDIT_ERR_HTTP_BAD_GATEWAY: { message: 'Bad gateway', status: 502, type: `${BASE}bad-gateway`, retriable: true },
  AUDIT_ERR_HTTP_UPSTREAM_TIMEOUT: { message: 'Upstream timeout', status: 504, type: `${BASE}upstream-timeout`, retriable: true },
  // lifecycle ingest (POST /ingest) and approval callbacks
  AUDIT_ERR_HTTP_INVALID_JSON: { message: 'Invalid JSON', status: 400, type: `${BASE}invalid-json` },
  AUDIT_ERR_HTTP_INVALID_EVENT: { message: 'Invalid lifecycle event', status: 400, type: `${BASE}invalid-event` },
  AUDIT_ERR_HTTP_REPLAYED: { message: 'Already accepted', status: 409, type: `${BASE}replayed` },
  AUDIT_ERR_HTTP_BAD_SIGNATURE: { message: 'Unauthorized', status: 401, type: `${BASE}bad-signature` },
  AUDIT_ERR_HTTP_INVALID_DECISION: { message: 'Invalid decision', status: 400, type: `${BASE}invalid-decision` },
  // approvals (four-eyes)
  AUDIT_ERR_HTTP_APPROVAL_REQUIRED: { message: 'Approval required', status: 403, type: `${BASE}approval-required` },
  AUDIT_ERR_HTTP_BAD_APPROVAL_HEADER: { message: 'Bad Audit-Approval header', status: 400, type: `${BASE}bad-approval-header` },
  AUDIT_ERR_HTTP_APPROVAL_REFUSED: { message: 'Approval refused', status: 403, type: `${BASE}approval-refused` },
  AUDIT_ERR_HTTP_APPROVAL_DENIED: { message: 'Approval denied', status: 403, type: `${BASE}approval-denied` },
  AUDIT_ERR_HTTP_APPROVAL_TIMEOUT: { message: 'No decision in time', status: 408, type: `${BASE}approval-timeout` },
  AUDIT_ERR_HTTP_APPROVAL_UNKNOWN: { message: 'Unknown approval', status: 404, type: `${BASE}approval-unknown-approval` },
  AUDIT_ERR_HTTP_APPROVAL_SELF: { message: 'Separation of duties', status: 403, type: `${BASE}approval-self-approval` },
  AUDIT_ERR_HTTP_APPROVAL_ALREADY_DECIDED: { message: 'Conflict', status: 409, type: `${BASE}approval-already-decided` },
  AUDIT_ERR_HTTP_APPROVAL_NOT_PENDING: { message: 'Conflict', status: 409, type: `${BASE}approval-not-pending` },
});

/** The problem document of a type in PROBLEMS; `status` only for a type answered with another status than its usual one. */
export function problem(type: ErrorDefinition, detail?: string, extra: Record<string, unknown> = {}, status: number = type.status ?? 500): Problem {
  return { type: type.type ?? `${BASE}internal`, title: type.message, status, ...(detail !== undefined ? { detail } : {}), ...extra };
}
