import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@jwt-audit/runtime';

/**
 * The demo API behind the interceptor: orders for customers, a user list for admins. It trusts
 * the interceptor for authentication (as a service behind an edge would) and reads the subject
 * from the x-auth-subject header the interceptor may forward.
 */
export interface Upstream {
  url: string;
  close(): Promise<void>;
}

export async function startUpstream(opts: { port?: number; host?: string; logger: Logger }): Promise<Upstream> {
  const orders = new Map<number, { id: number; sku: string; quantity: number; owner: string }>([
    [1041, { id: 1041, sku: 'A-1001', quantity: 1, owner: 'alice' }],
    [1042, { id: 1042, sku: 'B-2002', quantity: 3, owner: 'bob' }],
  ]);
  let nextId = 1043;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (path === '/healthz') return send(200, { status: 'ok' });
      if (req.method === 'GET' && path === '/api/orders') return send(200, { orders: [...orders.values()] });
      const one = /^\/api\/orders\/(\d+)$/.exec(path);
      if (req.method === 'GET' && one) {
        const o = orders.get(Number(one[1]));
        return o ? send(200, o) : send(404, { error: 'no such order' });
      }
      if (req.method === 'POST' && path === '/api/orders') {
        let body: { sku?: string; quantity?: number } = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        } catch {
          return send(400, { error: 'invalid JSON' });
        }
        const o = {
          id: nextId++,
          sku: String(body.sku ?? 'X'),
          quantity: Number(body.quantity ?? 1),
          owner: String(req.headers['x-auth-subject'] ?? 'unknown'),
        };
        orders.set(o.id, o);
        return send(201, o);
      }
      if (req.method === 'GET' && path === '/api/admin/users') return send(200, { users: ['alice', 'bob', 'carol'] });
      if (req.method === 'POST' && path === '/api/profile') return send(200, { updated: true });
      return send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  opts.logger.child({ component: 'demo-upstream' }).info({ url }, 'demo upstream listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
