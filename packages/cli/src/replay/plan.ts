/**
 * A recorded exchange (the indexer's ECS document of an `http.exchange`, or of a `token.validated`,
 * which is the record of a proxied request with a valid token) -> the request to send again, and
 * what keeps it from being the same request. Pure: data in, data out.
 *
 * What the document holds (packages/ecs `toEcsDocument`, packages/edge capture policy):
 *   http.request.method, url.path, url.query        the request line (query after masking)
 *   jwt_audit.http.request_headers                      allow-listed headers; secret ones only as
 *                                                   fingerprints (`sha256:<hex>`, `hmac:<id>:<hex>`)
 *   http.request.body.{bytes, content}, http.request.mime_type, jwt_audit.http.request_truncated
 *                                                   a captured body: the first maxBodyBytes as UTF-8
 *                                                   text, masked; binary bodies only as size + sha256
 *   http.response.status_code, http.response.body.{bytes, content}, jwt_audit.http.response_sha256,
 *   jwt_audit.http.response_truncated, jwt_audit.http.response_headers
 *                                                   what the client was answered
 * Recorded tokens are never stored, so the Authorization header is the operator's token, sent
 * where the recorded request carried a credential.
 */
import { hasMask } from './json-diff.js';

/** The parts of an event document replay reads. */
export interface ExchangeDocument {
  '@timestamp'?: string;
  event?: { id?: string; action?: string };
  user?: { id?: string };
  http?: {
    request?: { method?: string; mime_type?: string; body?: { bytes?: number; content?: string } };
    response?: { status_code?: number; mime_type?: string; body?: { bytes?: number; content?: string } };
  };
  url?: { path?: string; query?: string };
  jwt_audit?: {
    token?: { fingerprint?: string };
    route?: string;
    session_id?: string;
    masking?: { rules?: string[] };
    attributes?: Record<string, string>;
    http?: {
      request_headers?: Record<string, string>;
      response_headers?: Record<string, string>;
      request_truncated?: boolean;
      response_truncated?: boolean;
      request_sha256?: string;
      response_sha256?: string;
    };
  };
}

/** Why a request is not exactly the recorded one. */
export type FlagCode = 'request-body-not-captured' | 'request-body-truncated' | 'request-masked' | 'secret-header-dropped' | 'refused-at-edge';

export interface Flag {
  code: FlagCode;
  message: string;
}

export interface PlannedRequest {
  eventId: string;
  /** epoch ms of the recorded request. */
  at: number;
  method: string;
  /** Path and query as recorded (`/api/orders?x=1`). */
  target: string;
  /** Headers to send, lower-case names, without Authorization (added when `authenticated`). */
  headers: Record<string, string>;
  /** The operator's token goes in Authorization. */
  authenticated: boolean;
  body: string | null;
  /** Flags that make the request differ from the recorded one. */
  flags: Flag[];
  /** A request that cannot be sent faithfully (its body is missing or cut): skipped unless asked. */
  unfaithful: boolean;
  recorded: RecordedResponse | null;
  route: string | null;
}

export interface RecordedResponse {
  status: number;
  /** Bytes of the whole body as sent, when known (captured body, or content-length). */
  size: number | null;
  /** SHA-256 of the whole body, where the index holds it (truncated or binary bodies). */
  sha256: string | null;
  /** The captured body text, whole (null when not captured or truncated). */
  content: string | null;
  contentType: string | null;
  truncated: boolean;
}

/** Headers never sent again: recomputed by the HTTP client, hop-by-hop, or the edge's business. */
const NOT_REPLAYED = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'proxy-connection',
]);
/** Credentials: the recorded value is a fingerprint. */
const CREDENTIALS = new Set(['authorization', 'proxy-authorization']);
const FINGERPRINT = /^(?:sha256:[0-9a-f]{64}|hmac:[A-Za-z0-9_-]+:[0-9a-f]{16,})(?:, ?(?:sha256:[0-9a-f]{64}|hmac:[A-Za-z0-9_-]+:[0-9a-f]{16,}))*$/;
/** Header names that hold credentials (cookies, API keys, signatures): a fingerprint there is not sent. */
const SECRET_NAME = /cookie|key|token|secret|auth|session|passw|signature|credential/i;
/** Methods whose requests normally carry no body: a missing capture there is not a lost body. */
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

/** The header every replayed request carries, so the target's own audit trail can tell replays. */
export const REPLAY_HEADER = 'x-audit-replay-of';

function recordedResponse(d: ExchangeDocument): RecordedResponse | null {
  const res = d.http?.response;
  if (!plainObject(res) || typeof res.status_code !== 'number') return null;
  const body = plainObject(res.body) ? res.body : undefined;
  const truncated = d.jwt_audit?.http?.response_truncated === true;
  const headers = plainObject(d.jwt_audit?.http?.response_headers) ? d.jwt_audit!.http!.response_headers! : {};
  const length = headers['content-length'];
  const size = typeof body?.bytes === 'number' ? body.bytes : typeof length === 'string' && /^\d{1,15}$/.test(length) ? Number(length) : null;
  const sha = d.jwt_audit?.http?.response_sha256;
  const type = res.mime_type ?? headers['content-type'];
  return {
    status: res.status_code,
    size,
    sha256: typeof sha === 'string' ? sha : null,
    content: body && typeof body.content === 'string' && !truncated ? body.content : null,
    contentType: typeof type === 'string' ? type : null,
    truncated,
  };
}

export class NotAnExchange extends Error {}

const plainObject = <T>(v: T | undefined | null): v is T & object => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The request to send for one recorded exchange; throws NotAnExchange for a document without a request. */
export function planRequest(id: string, d: ExchangeDocument): PlannedRequest {
  const method = d.http?.request?.method;
  const path = d.url?.path;
  if (typeof method !== 'string' || typeof path !== 'string' || !path.startsWith('/')) throw new NotAnExchange(`event ${id} holds no recorded HTTP request`);
  const flags: Flag[] = [];
  const query = typeof d.url?.query === 'string' ? d.url.query : null;
  if (query && hasMask(query)) flags.push({ code: 'request-masked', message: 'query string has masked values: replayed as their masks' });

  const recordedHeaders = plainObject(d.jwt_audit?.http?.request_headers) ? d.jwt_audit!.http!.request_headers! : {};
  const headers: Record<string, string> = {};
  let authenticated = d.event?.action === 'token-validated' || d.jwt_audit?.token?.fingerprint !== undefined;
  for (const [rawName, value] of Object.entries(recordedHeaders)) {
    const name = rawName.toLowerCase();
    if (typeof value !== 'string' || NOT_REPLAYED.has(name)) continue;
    if (CREDENTIALS.has(name)) {
      authenticated = true;
      continue;
    }
    if (FINGERPRINT.test(value)) {
      // A credential-like header (the interceptor's secretHeaders) holds its fingerprint: sending
      // that as a key is pointless. Any other header was replaced by the masker (its value did not
      // fit its shape): replayed as its mask, as masked values are.
      if (SECRET_NAME.test(name)) {
        flags.push({ code: 'secret-header-dropped', message: `${name} not sent: only its fingerprint was recorded` });
        continue;
      }
      flags.push({ code: 'request-masked', message: `header ${name} is masked (only a pseudonym was recorded): replayed as its mask` });
      headers[name] = value;
      continue;
    }
    // a header value that cannot be sent as it is (control characters) is left out
    if (/[\0-\x08\n\r\x0b-\x1f\x7f]/.test(value)) {
      flags.push({ code: 'secret-header-dropped', message: `${name} not sent: its recorded value is not a valid header value` });
      continue;
    }
    if (hasMask(value)) flags.push({ code: 'request-masked', message: `header ${name} is masked: replayed as its mask` });
    headers[name] = value;
  }

  let body: string | null = null;
  let unfaithful = false;
  const rb = plainObject(d.http?.request?.body) ? d.http!.request!.body! : undefined;
  const declared = recordedHeaders['content-length'];
  if (rb) {
    if (typeof rb.content === 'string') {
      body = rb.content;
      if (d.jwt_audit?.http?.request_truncated === true) {
        unfaithful = true;
        flags.push({
          code: 'request-body-truncated',
          message: `request body truncated: ${Buffer.byteLength(rb.content)} of ${rb.bytes ?? '?'} bytes were kept`,
        });
      } else if (hasMask(rb.content)) {
        flags.push({ code: 'request-masked', message: 'request body has masked values: replayed as their masks' });
      }
    } else if ((rb.bytes ?? 0) > 0) {
      unfaithful = true;
      flags.push({
        code: 'request-body-not-captured',
        message: `request body not captured (${rb.bytes} bytes${d.http?.request?.mime_type ? ` of ${d.http.request.mime_type}` : ''}: only its size and SHA-256 are kept)`,
      });
    } else {
      body = '';
    }
  } else if ((declared !== undefined && declared !== '0') || (declared === undefined && !BODYLESS.has(method.toUpperCase()))) {
    unfaithful = true;
    flags.push({
      code: 'request-body-not-captured',
      message: `request body not captured (the route's capture policy kept no request body${declared !== undefined ? `; it had ${declared} bytes` : ''})`,
    });
  }
  const mime = d.http?.request?.mime_type;
  if (body !== null && typeof mime === 'string' && mime !== '' && !/[\0-\x1f\x7f]/.test(mime) && headers['content-type'] === undefined)
    headers['content-type'] = mime;

  const rejection = plainObject(d.jwt_audit?.attributes) ? d.jwt_audit!.attributes!['auth.rejection'] : undefined;
  if (typeof rejection === 'string' && rejection !== '')
    flags.push({ code: 'refused-at-edge', message: `the recorded request was refused at the edge (${rejection}); it is replayed with the operator's token` });

  const at = Date.parse(d['@timestamp'] ?? '');
  return {
    eventId: id,
    at: Number.isFinite(at) ? at : 0,
    method: method.toUpperCase(),
    target: query ? `${path}?${query}` : path,
    headers,
    authenticated,
    body,
    flags,
    unfaithful,
    recorded: recordedResponse(d),
    route: typeof d.jwt_audit?.route === 'string' ? d.jwt_audit.route : null,
  };
}
