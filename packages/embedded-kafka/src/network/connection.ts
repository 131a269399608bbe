/**
 * One client connection. Framing (Kafka protocol guide):
 *   request  = size INT32, api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING, body
 *   response = size INT32, correlation_id INT32, body
 * Requests are handled one at a time, in order, as a Kafka broker does per connection, so
 * responses always come back in request order (a long-polling fetch delays those behind it).
 * A frame that is negative or larger than the limit, an unknown API key, an unsupported version
 * (but for ApiVersions, answered with UNSUPPORTED_VERSION) or a body that does not parse closes
 * this connection only.
 */
import type net from 'node:net';
import { ErrorCode, KafkaProtocolError } from '../errors.js';
import { writeApiVersions } from '../protocol/api-versions.js';
import type { ApiDefinition, BrokerContext } from '../protocol/context.js';
import { Reader, Writer } from '../protocol/primitives.js';
import { NO_RESPONSE } from '../protocol/produce.js';

export function serveConnection(socket: net.Socket, apis: Map<number, ApiDefinition>, ctx: BrokerContext, maxFrameBytes: number): void {
  const log = ctx.logger.child({ client: `${socket.remoteAddress}:${socket.remotePort}` });
  const abort = new AbortController();
  let pending: Buffer = Buffer.alloc(0);
  const queue: Buffer[] = [];
  let busy = false;
  let closed = false;

  const close = (reason: string) => {
    if (closed) return;
    closed = true;
    log.debug({ reason }, 'closing connection');
    abort.abort();
    socket.destroy();
  };

  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (size < 8 || size > maxFrameBytes) {
        log.warn({ size, maxFrameBytes }, 'frame size out of bounds: connection closed');
        return close('bad frame size');
      }
      if (pending.length < 4 + size) break;
      queue.push(pending.subarray(4, 4 + size));
      pending = pending.subarray(4 + size);
    }
    void drain();
  });
  socket.on('error', () => close('socket error'));
  socket.on('close', () => close('peer closed'));

  async function drain(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      while (queue.length > 0 && !closed) {
        const response = await handle(queue.shift()!);
        if (response && !closed) socket.write(response);
      }
    } finally {
      busy = false;
    }
  }

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
      const w = new Writer(1024);
      w.int32(0).int32(correlationId);
      if (!api) {
        log.warn({ apiKey }, 'unknown API key: connection closed');
        close('unknown api');
        return undefined;
      }
      if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
        if (api.key === 18) {
          writeApiVersions(w, [...apis.values()], 0, ErrorCode.UNSUPPORTED_VERSION);
          return finish(w);
        }
        log.warn({ api: api.name, apiVersion, supported: `${api.minVersion}-${api.maxVersion}` }, 'unsupported API version: connection closed');
        close('unsupported version');
        return undefined;
      }
      try {
        await api.handle(r, w, { apiVersion, clientId, clientHost: socket.remoteAddress ?? '' }, ctx, abort.signal);
      } catch (err) {
        if (err === NO_RESPONSE) return undefined;
        throw err;
      }
      return finish(w);
    } catch (err) {
      const malformed = err instanceof KafkaProtocolError || err instanceof RangeError;
      log.warn({ apiKey, correlationId, err: (err as Error).message }, malformed ? 'malformed request: connection closed' : 'request failed: connection closed');
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
