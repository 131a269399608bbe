import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@jwt-audit/runtime';
import { SIGNATURE_HEADER, verify } from '@jwt-audit/alert-webhook';

/**
 * Where the demo's alert-webhook forwarder posts: checks the HMAC signature when a secret is set
 * (as any receiver should) and logs every alert it receives, one line each.
 */
export async function startWebhookReceiver(opts: {
  port?: number;
  host?: string;
  secret?: string;
  logger: Logger;
}): Promise<{ url: string; close(): Promise<void> }> {
  const log = opts.logger.child({ component: 'demo-webhook' });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (opts.secret && !verify(opts.secret, body, req.headers[SIGNATURE_HEADER] as string | undefined, Date.now())) {
        log.warn('webhook with a missing or invalid signature refused');
        res.writeHead(401).end();
        return;
      }
      try {
        const alert = JSON.parse(body) as { rule?: string; severity?: string; description?: string; keys?: unknown; count?: number };
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
