import type { Server, Socket } from 'node:net';
import { problem, PROBLEMS } from './problem.js';

/**
 * Caps on open client connections: all of them, and per client address (the socket peer: a
 * trusted load balancer in front would be one address, so set the per-address cap with that in
 * mind, or 0 for none). Over a cap, a plain-HTTP connection is answered at once with a 503
 * problem and closed; a TLS one is closed (nothing readable can be written before the
 * handshake). Idle sockets are still bounded by the server's own timeouts; this bounds how many
 * descriptors a flood of them can take.
 *
 * Reading `remoteAddress` here also makes node cache it, so a socket reset later (client-errors.ts)
 * still knows its peer.
 */
export interface ConnectionLimits {
  maxConnections: number;
  /** 0: no per-address cap. */
  maxConnectionsPerIp: number;
}

export interface ConnectionMetrics {
  openConnections(n: number): void;
  refusedConnection(reason: 'max_connections' | 'max_connections_per_ip'): void;
}

const BODY = (detail: string) => JSON.stringify(problem(PROBLEMS.AUDIT_ERR_HTTP_TOO_MANY_CONNECTIONS, detail));

/**
 * Installs the caps on `server` (before node's own connection listener, so a refused socket is
 * answered before anything it sent is parsed). Returns `refused(socket)`: a request that still
 * arrives on a refused socket before it closes is dropped by the caller.
 */
export function limitConnections(server: Server, limits: ConnectionLimits, metrics: ConnectionMetrics, tls: boolean): (socket: Socket) => boolean {
  let open = 0;
  const perIp = new Map<string, number>();
  const refusedSockets = new WeakSet<Socket>();
  const refuse = (socket: Socket, reason: 'max_connections' | 'max_connections_per_ip') => {
    refusedSockets.add(socket);
    metrics.refusedConnection(reason);
    socket.on('error', () => {});
    if (tls) return void socket.destroy();
    const body = BODY(reason === 'max_connections' ? 'the interceptor is at its connection limit' : 'this address is at its connection limit');
    socket.end(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
    // a client that never reads does not keep the refused socket
    socket.setTimeout(1_000, () => socket.destroy());
  };
  server.prependListener('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? '';
    if (open >= limits.maxConnections) return refuse(socket, 'max_connections');
    const n = perIp.get(ip) ?? 0;
    if (limits.maxConnectionsPerIp > 0 && n >= limits.maxConnectionsPerIp) return refuse(socket, 'max_connections_per_ip');
    open++;
    perIp.set(ip, n + 1);
    metrics.openConnections(open);
    socket.once('close', () => {
      open--;
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left <= 0) perIp.delete(ip);
      else perIp.set(ip, left);
      metrics.openConnections(open);
    });
  });
  return (socket) => refusedSockets.has(socket);
}
