import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface OpsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** GET /metrics (Prometheus text) and GET /healthz (200 when healthy, else 503, JSON details). */
export async function startOpsServer(opts: {
  port?: number;
  host?: string;
  registry: Registry;
  health: () => Health | Promise<Health>;
  logger: Logger;
}): Promise<OpsServer> {
  const server = http.createServer(async (req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/metrics') {
        const text = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text);
      } else if (path === '/healthz') {
        const h = await opts.health();
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: h.ok ? 'ok' : 'unhealthy', ...h }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      }
    } catch (err) {
      opts.logger.error({ err }, 'ops endpoint failed');
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
