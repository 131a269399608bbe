/**
 * One client connection. Framing (Kafka protocol guide):
 *   request  = size INT32, api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING,
 *              [header v2, flexible versions: tagged fields], body
 *   response = size INT32, correlation_id INT32, [header v1, flexible versions but ApiVersions: tagged fields], body
 *
 * Back-pressure, as Kafka's SocketServer does it: once a request frame is complete the connection
 * is muted (the socket is paused, nothing more is read) until its response has been handed to the
 * kernel, i.e. `write` returned true or 'drain' fired. So a client that pipelines requests and
 * never reads holds at most one response in the broker's memory, one request is in flight per
 * connection, and requests are answered in order. Frames are read into one buffer of their
 * declared size (frame-reader.ts), reserved first from the broker-wide RequestBudget.
 * `connections.max.idle.ms`: a connection with no request in flight and no bytes moving for that
 * long is closed (a half-sent frame does not keep it open).
 * A frame that is too small or larger than `socket.request.max.bytes`, an unknown API key, an
 * unsupported version (but for ApiVersions, answered with UNSUPPORTED_VERSION) or a body that does
 * not parse closes this connection only.
 */
import type net from 'node:net';
import { ErrorCode, KafkaProtocolError } from '../errors.js';
import { writeApiVersions } from '../protocol/api-versions.js';
import type { ApiDefinition, BrokerContext } from '../protocol/context.js';
import { Reader, Writer } from '../protocol/primitives.js';
import { NO_RESPONSE } from '../protocol/produce.js';
import { newSaslSession, PRE_AUTH_APIS } from '../protocol/sasl.js';
import { FrameReader, FrameSizeError } from './frame-reader.js';
import type { RequestBudget } from './request-budget.js';

export interface ConnectionLimits {
  socketRequestMaxBytes: number;
  connectionsMaxIdleMs: number;
  /** The listener requires SASL: nothing but ApiVersions and the SASL exchange before it succeeds. */
  saslRequired?: boolean;
}

/** Broker-wide counters of what connections hold, for `broker.stats()` and the tests that bound it. */
export interface NetworkStats {
  connections: number;
  /** Responses whose write is waiting for the client to read ('drain'). */
  blockedResponses: number;
  blockedResponseBytes: number;
  requestsHandled: number;
}

export function serveConnection(
  socket: net.Socket,
  apis: Map<number, ApiDefinition>,
  ctx: BrokerContext,
  limits: ConnectionLimits,
  budget: RequestBudget,
  stats: NetworkStats,
): void {
  const log = ctx.logger.child({ client: `${socket.remoteAddress}:${socket.remotePort}` });
  const abort = new AbortController();
  const reader = new FrameReader(limits.socketRequestMaxBytes);
  let chunk: Buffer | undefined;
  let chunkOffset = 0;
  /** A request is in flight, or the connection waits for budget: read nothing more. */
  let muted = false;
  let reserved = 0;
  let closed = false;
  const sasl = limits.saslRequired ? newSaslSession() : undefined;
  stats.connections++;

  const idle = (on: boolean) => socket.setTimeout(on ? limits.connectionsMaxIdleMs : 0);
  idle(true);

  const close = (reason: string) => {
    if (closed) return;
    closed = true;
    stats.connections--;
    log.debug({ reason }, 'closing connection');
    abort.abort();
    budget.cancel(onBudget);
    if (reserved > 0) budget.release(reserved);
    reserved = 0;
    chunk = undefined;
    socket.destroy();
  };

  const mute = () => {
    muted = true;
    idle(false);
    socket.pause();
  };
  const unmute = () => {
    if (closed) return;
    muted = false;
    idle(true);
    pump();
    if (!muted && !closed) socket.resume();
  };

  function onBudget(): void {
    reserved = reader.declared;
    reader.allocate();
    unmute();
  }

  /** Consumes the buffered chunk until it is used up or the connection mutes. */
  function pump(): void {
    try {
      while (!muted && !closed && chunk) {
        if (reader.needsBuffer) {
          if (!budget.reserve(reader.declared, onBudget)) {
            mute();
            return;
          }
          reserved = reader.declared;
          reader.allocate();
        }
        if (chunkOffset >= chunk.length) {
          chunk = undefined;
          break;
        }
        chunkOffset += reader.feed(chunk, chunkOffset);
        if (reader.complete) dispatch(reader.take());
      }
    } catch (err) {
      if (!(err instanceof FrameSizeError)) throw err;
      log.warn({ size: err.size, max: err.max }, 'frame size out of bounds: connection closed');
      close('bad frame size');
    }
  }

  function dispatch(frame: Buffer): void {
    mute();
    stats.requestsHandled++;
    void handle(frame).then(async (response) => {
      budget.release(reserved);
      reserved = 0;
      if (closed) return;
      if (sasl?.closeAfterResponse) {
        // A failed SASL exchange: the answer is written, then the connection ends (nothing more is read).
        if (response) socket.end(response);
        else socket.end();
        return;
      }
      if (response && !socket.write(response)) {
        stats.blockedResponses++;
        stats.blockedResponseBytes += response.length;
        // Stay muted until the client has read it: the response is the only one this connection holds.
        idle(true);
        await new Promise<void>((resolve) => {
          const done = () => {
            socket.off('drain', done);
            socket.off('close', done);
            resolve();
          };
          socket.on('drain', done);
          socket.on('close', done);
        });
        stats.blockedResponses--;
        stats.blockedResponseBytes -= response.length;
      }
      unmute();
    });
  }

  socket.on('data', (data: Buffer) => {
    // After pause() no further 'data' arrives; the chunk that made us mute is kept and resumed from.
    chunk = chunk && chunkOffset < chunk.length ? Buffer.concat([chunk.subarray(chunkOffset), data]) : data;
    chunkOffset = 0;
    pump();
  });
  socket.on('timeout', () => {
    log.debug({ idleMs: limits.connectionsMaxIdleMs }, 'idle connection closed (connections.max.idle.ms)');
    close('idle');
  });
  socket.on('error', () => close('socket error'));
  socket.on('close', () => close('peer closed'));

  async function handle(frame: Buffer): Promise<Buffer | undefined> {
    const r = new Reader(frame);
    let apiKey = -1;
    let correlationId = 0;
    try {
      apiKey = r.int16();
      const apiVersion = r.int16();
      correlationId = r.int32();
      const clientId = r.nullableString();
      const api = apis.get(apiKey);
      if (!api) {
        log.warn({ apiKey }, 'unknown API key: connection closed');
        close('unknown api');
        return undefined;
      }
      const w = new Writer(1024);
      w.int32(0).int32(correlationId);
      if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
        if (api.key === 18) {
          writeApiVersions(w, [...apis.values()], 0, ErrorCode.UNSUPPORTED_VERSION);
          return finish(w);
        }
        log.warn({ api: api.name, apiVersion, supported: `${api.minVersion}-${api.maxVersion}` }, 'unsupported API version: connection closed');
        close('unsupported version');
        return undefined;
      }
      if (sasl && sasl.state !== 'done' && !PRE_AUTH_APIS.has(api.key)) {
        log.warn({ api: api.name }, 'request before SASL authentication: connection closed');
        close('not authenticated');
        return undefined;
      }
      const flexible = api.flexibleVersion !== undefined && apiVersion >= api.flexibleVersion;
      if (flexible) r.skipTaggedFields();
      // ApiVersions answers with response header v0 at every version, so old clients can read it.
      if (flexible && api.key !== 18) w.uvarint(0);
      try {
        await api.handle(r, w, { apiVersion, clientId, clientHost: socket.remoteAddress ?? '', flexible, ...(sasl ? { sasl } : {}) }, ctx, abort.signal);
      } catch (err) {
        if (err === NO_RESPONSE) return undefined;
        throw err;
      }
      return finish(w);
    } catch (err) {
      if (closed) return undefined;
      const malformed = err instanceof KafkaProtocolError || err instanceof RangeError;
      log.warn(
        { apiKey, correlationId, err: (err as Error).message },
        malformed ? 'malformed request: connection closed' : 'request failed: connection closed',
      );
      close('bad request');
      return undefined;
    }
  }
}

function finish(w: Writer): Buffer {
  const buf = w.toBuffer();
  buf.writeInt32BE(buf.length - 4, 0);
  return buf;
}
