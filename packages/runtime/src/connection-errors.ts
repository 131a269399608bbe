import { connect as tlsConnect } from 'node:tls';
import type { EsConnectionConfig } from './config.js';
import { AuditError, RUNTIME_ERRORS } from './errors.js';

/**
 * What a refused connection means in terms of the settings that made it. A wrong password, an
 * API key Elasticsearch does not know, a SASL mechanism the broker does not offer, a certificate
 * no configured CA vouches for, a plaintext client at a TLS listener: each is a setting to fix,
 * not an outage to wait out, so every client of the project (services, the CLI, `npm start`'s
 * setup) says which setting, in one line, and gives up at once (SETTINGS_REFUSED). The Kafka half
 * of the table is in @jwt-audit/kafka's errors.ts (explainKafkaError); it uses the helpers here.
 */

/** The code of an error that names a setting to fix: credentials, mechanism or trust refused. */
export const SETTINGS_REFUSED = RUNTIME_ERRORS.AUDIT_ERR_SETTINGS_REFUSED.code;

/** The exit code of a process whose settings were refused (as for an invalid configuration). */
export const EXIT_SETTINGS = 2;

export function settingsRefused(message: string, cause?: unknown): AuditError {
  return cause === undefined ? RUNTIME_ERRORS.AUDIT_ERR_SETTINGS_REFUSED.create(message) : RUNTIME_ERRORS.AUDIT_ERR_SETTINGS_REFUSED.wrap(cause, message);
}

/** Whether err (or anything under it: causes, aggregates) is a SETTINGS_REFUSED error. */
export function isSettingsRefused(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 8) return false;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown[] };
  if (e.code === SETTINGS_REFUSED) return true;
  if (e.cause !== undefined && e.cause !== err && isSettingsRefused(e.cause, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((x) => isSettingsRefused(x, depth + 1));
}

/** OpenSSL / Node codes of a server certificate the client does not trust. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** The same, by message, for clients that keep only the message (undici's ConnectionError). */
const UNTRUSTED_MESSAGE =
  /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate|certificate has expired|certificate is not yet valid|Hostname\/IP does not match certificate/i;

/** OpenSSL's words for why the server's certificate is not trusted, if that is what err is (anywhere under it). */
export function untrustedCertificate(err: unknown, depth = 0): string | undefined {
  if (err === null || typeof err !== 'object' || depth > 8) return undefined;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[]; originalError?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  if (typeof e.code === 'string' && UNTRUSTED_CODES.has(e.code)) return message.replace(/^Connection error: /, '') || e.code;
  const m = UNTRUSTED_MESSAGE.exec(message);
  if (m) return message.replace(/^Connection error: /, '');
  for (const inner of [e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    if (inner !== undefined && inner !== err) {
      const found = untrustedCertificate(inner, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Whether host:port completes a TLS handshake (any certificate): asked when a plaintext client
 * saw the connection closed without an answer, to tell "this listener wants TLS" from "down".
 */
export function speaksTls(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The reason Elasticsearch gave in a security_exception, without the client's "Root causes" framing. */
function esReason(err: { message?: string; meta?: { body?: unknown } }): string {
  const body = err.meta?.body as { error?: { reason?: string } } | undefined;
  return (
    body?.error?.reason ??
    (err.message ?? '')
      .split('\n')
      .at(-1)!
      .replace(/^\s*security_exception: /, '')
  );
}

/**
 * The settings-refused error an Elasticsearch client error stands for, or undefined when it is
 * something else (an outage, a bad request). Async: a plaintext URL at an HTTPS listener is told
 * apart from a node that is down by trying a TLS handshake.
 */
export async function explainEsError(err: unknown, c: EsConnectionConfig): Promise<AuditError | undefined> {
  if (err === null || typeof err !== 'object') return undefined;
  if ((err as { code?: unknown }).code === SETTINGS_REFUSED) return err as AuditError;
  // under our own wrappers (the indexer's fromEsError), the client's error is the cause
  for (let depth = 0; depth < 8 && !isEsClientError(err) && (err as { cause?: unknown }).cause; depth++) err = (err as { cause: unknown }).cause;
  if (!isEsClientError(err)) return undefined;
  const e = err as { name?: string; message?: string; meta?: { statusCode?: number; body?: unknown } };
  const status = e.meta?.statusCode;
  const url = safeUrl(c.url);
  const where = url ? `${url.protocol}//${url.host}` : 'Elasticsearch';
  if (status === 401) {
    const reason = esReason(e);
    if (c.apiKey) return settingsRefused(`Elasticsearch at ${where} refused the API key (${reason}): check AUDIT_ES_API_KEY`, err);
    if (c.username || url?.username)
      return settingsRefused(
        `Elasticsearch at ${where} refused user ${JSON.stringify(c.username ?? decodeURIComponent(url!.username))} (${reason}): check AUDIT_ES_USERNAME and AUDIT_ES_PASSWORD`,
        err,
      );
    return settingsRefused(
      `Elasticsearch at ${where} requires authentication (${reason}): set AUDIT_ES_API_KEY, or AUDIT_ES_USERNAME and AUDIT_ES_PASSWORD`,
      err,
    );
  }
  if (status === 403) {
    return settingsRefused(
      `Elasticsearch at ${where} refused the request (${esReason(e)}): the ${c.apiKey ? 'API key (AUDIT_ES_API_KEY)' : `user ${JSON.stringify(c.username ?? '')} (AUDIT_ES_USERNAME)`} lacks a privilege`,
      err,
    );
  }
  const untrusted = untrustedCertificate(err);
  if (untrusted) {
    return settingsRefused(
      `Elasticsearch's TLS certificate at ${where} is not trusted (${untrusted}): set AUDIT_ES_CA_FILE to the CA that signed it${c.caFile ? ` (now ${c.caFile})` : ''}`,
      err,
    );
  }
  if (e.name === 'ConnectionError' && url?.protocol === 'http:' && /other side closed|socket hang up|ECONNRESET/i.test(e.message ?? '')) {
    if (await speaksTls(url.hostname, Number(url.port || 80)))
      return settingsRefused(`Elasticsearch at ${where} answers HTTPS only: AUDIT_ES_URL must start with https://`, err);
  }
  return undefined;
}

/** @elastic/elasticsearch errors carry `meta` (the request and its response); kafkajs' do not. */
export function isEsClientError(err: unknown): boolean {
  return err !== null && typeof err === 'object' && 'meta' in err && /Error$/.test(String((err as { name?: unknown }).name ?? ''));
}

function safeUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}
