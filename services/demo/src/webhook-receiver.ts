import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@jwt-audit/runtime';

/** Where the demo's alert-webhook forwarder posts: logs every alert it receives, one line each. */
export async function startWebhookReceiver(opts: { port?: number; host?: string; logger: Logger }): Promise<{ url: string; close(): Promise<void> }> {
  const log = opts.logger.child({ component: 'demo-webhook' });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      try {
        const alert = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { rule?: string; severity?: string; description?: string; keys?: unknown; count?: number };
        log.warn({ rule: alert.rule, severity: alert.severity, keys: alert.keys, count: alert.count }, `ALERT ${alert.description ?? ''}`);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/alerts`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
