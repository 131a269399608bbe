import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Source } from '@jwt-audit/events';
import type { ErrorDefinition, Logger } from '@jwt-audit/runtime';
import { problem, PROBLEMS } from './problem.js';
import { failureEvent, type FailedRequest, type FailureReason } from './exchange-failure.js';
import type { EventSink } from './engine.js';
import { eventRecord } from './engine.js';

/**
 * What node refuses before the proxy's handler sees a request (the server's `clientError`:
 * a malformed request line or header, a head too large, a head or body too slow, a chunk
 * extension too long, a reset mid-head) is answered here as node would, with a problem document
 * instead of an empty body, and audited: an `http.exchange` with the status, the reason
 * (`attributes["proxy.error"]`, node's parser code in `["http.parseError"]`) and the client
 * address. Events are rate-limited by a token bucket (a flood of garbage must not become a
 * flood of audit records: past the bucket they are only counted), and every field is bounded.
 */
export type ClientErrorReason = Extract<
  FailureReason,
  'malformed_request' | 'request_header_fields_too_large' | 'chunk_extensions_too_large' | 'request_timeout' | 'client_reset'
>;

export interface ClientErrorOptions {
  source: Source;
  sink: EventSink;
  logger: Logger;
  /** Events per second, sustained, and the burst allowed above it. */
  eventsPerSec: number;
  burst: number;
  metrics: { clientError(reason: string, recorded: boolean): void };
  /**
   * Hands the error to the exchange in flight on this socket, if any (a slow or malformed body:
   * the exchange answers and records it itself); `served`: the socket carried a request before.
   */
  inFlight(socket: Socket, reason: ClientErrorReason, status: number, err: Error): { handled: boolean; served: boolean };
  now?: () => number;
}

const STATUS: Partial<Record<ClientErrorReason, ErrorDefinition>> = {
  malformed_request: PROBLEMS.AUDIT_ERR_HTTP_BAD_REQUEST,
  request_header_fields_too_large: PROBLEMS.AUDIT_ERR_HTTP_HEADER_FIELDS_TOO_LARGE,
  chunk_extensions_too_large: PROBLEMS.AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE,
  request_timeout: PROBLEMS.AUDIT_ERR_HTTP_REQUEST_TIMEOUT,
};

export function clientErrorReason(code: string | undefined): ClientErrorReason {
  if (code === 'HPE_HEADER_OVERFLOW') return 'request_header_fields_too_large';
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 'chunk_extensions_too_large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'client_reset';
  return 'malformed_request';
}

/** The request line of what node could not parse, when it is one ("GET /x HTTP/1.1"); never more than that. */
export function requestLine(raw: Buffer | undefined): { method: string; path: string; query: string | null } | null {
  if (!raw) return null;
  const end = raw.indexOf('\r\n');
  const line = raw.subarray(0, end >= 0 ? Math.min(end, 4096) : Math.min(raw.length, 4096)).toString('latin1');
  const m = /^([A-Za-z]{1,16}) ([\x21-\x7e]{1,4000}) HTTP\/\d\.\d$/.exec(line);
  if (!m) return null;
  const target = m[2]!;
  const q = target.indexOf('?');
  return { method: m[1]!, path: q >= 0 ? target.slice(0, q) : target, query: q >= 0 ? target.slice(q + 1) : null };
}

export function createClientErrorHandler(o: ClientErrorOptions): (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => void {
  const now = o.now ?? Date.now;
  const log = o.logger.child({ component: 'client-errors' });
  let tokens = o.burst;
  let refilled = now();
  const take = (): boolean => {
    const t = now();
    tokens = Math.min(o.burst, tokens + ((t - refilled) / 1000) * o.eventsPerSec);
    refilled = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  return (err, socket) => {
    try {
      const reason = clientErrorReason(err.code);
      const status = STATUS[reason]?.status ?? 0;
      const flight = o.inFlight(socket, reason, status, err);
      if (flight.handled) {
        o.metrics.clientError(reason, true);
        return;
      }
      if (reason !== 'client_reset') {
        if (socket.writable) {
          const body = JSON.stringify(problem(STATUS[reason]!));
          socket.end(
            `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
            () => socket.destroy(),
          );
        } else socket.destroy();
      } else socket.destroy();
      // a reset is a refused request only when it cut a head short (an idle keep-alive connection closing is not)
      const record = reason !== 'client_reset' || (!flight.served && socket.bytesRead > 0);
      const recorded = record && take();
      o.metrics.clientError(reason, recorded);
      if (!recorded) return;
      const line = requestLine(err.rawPacket);
      const r: FailedRequest = {
        startedAt: now(),
        method: line?.method ?? '',
        path: line?.path ?? '',
        query: line?.query ?? null,
        host: '',
        scheme: 'encrypted' in socket ? 'https' : 'http',
        requestId: null,
        clientIp: socket.remoteAddress ?? null,
        userAgent: null,
      };
      const e = failureEvent(r, status, reason, o.source);
      if (err.code) e.attributes['http.parseError'] = err.code.slice(0, 64);
      o.sink.enqueue([eventRecord(e)]);
      log.debug({ reason, code: err.code, clientIp: r.clientIp }, 'request refused before the handler');
    } catch (again) {
      log.error({ err: again }, 'handling a client error failed');
      socket.destroy();
    }
  };
}
