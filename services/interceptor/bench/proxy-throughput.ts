/**
 * Requests/s and p50/p99 latency through the interceptor (enforce mode, RS256, cached JWKS,
 * events published to the embedded broker) against the same upstream behind a bare node:http
 * reverse proxy that does nothing else, measured in one run with autocannon.
 *   npm run bench -w services/interceptor            (10 s per target)
 *   BENCH_SECONDS=30 BENCH_CONNECTIONS=100 npm run bench -w services/interceptor
 */
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createInterceptor } from '../src/index.js';
import { closeServer, listen, quietLogger, startTestAuthServer, testConfig } from '../src/testdata/harness.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

interface Result {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

function run(url: string, headers: Record<string, string>): Promise<Result> {
  return new Promise((resolve, reject) => {
    // the load generator in a worker thread, so it does not share the event loop it measures
    autocannon({ url, connections, duration: seconds, headers, workers: 1 }, (err: Error | null, r: Result) => (err ? reject(err) : resolve(r)));
  });
}

const logger = quietLogger();
const dir = await mkdtemp(path.join(tmpdir(), 'interceptor-bench-'));
// the broker runs in its own process, as a broker would: its CPU is not the interceptor's event loop
const kafkaPort = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(p));
  });
});
const bin = fileURLToPath(new URL('../../../packages/embedded-kafka/src/bin.ts', import.meta.url));
const brokerProc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, '--dir', path.join(dir, 'kafka'), '--port', String(kafkaPort)], { stdio: 'ignore' });
const broker = { address: `127.0.0.1:${kafkaPort}` };
for (let i = 0; ; i++) {
  const up = await new Promise<boolean>((resolve) => net.connect(kafkaPort, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).on('error', () => resolve(false)));
  if (up) break;
  if (i > 300) throw new Error('embedded broker did not start');
  await new Promise((r) => setTimeout(r, 100));
}
await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 'bench' }, logger));
const auth = await startTestAuthServer();
const body = JSON.stringify({ orders: [{ id: 1041, sku: 'A-1001', quantity: 1 }] });
const upstream = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
});
const upstreamUrl = await listen(upstream);
const up = new URL(upstreamUrl);

// baseline: a bare reverse proxy, node:http piping with a keep-alive agent, nothing else
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const bare = http.createServer((req, res) => {
  const p = http.request({ hostname: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  p.on('error', () => res.writeHead(502).end());
  req.pipe(p);
});
const bareUrl = await listen(bare);

const interceptor = createInterceptor(
  testConfig({
    brokers: [broker.address],
    spoolDir: path.join(dir, 'spool'),
    jwksUrl: auth.jwksUrl,
    issuer: auth.issuer,
    audience: auth.audience,
    upstreams: { api: upstreamUrl },
    routes: [{ name: 'orders', path: '/api/orders', upstream: 'api', scopes: ['orders:read'] }],
    revocations: { enabled: true, startupTimeoutMs: 5_000 },
  }),
  { logger },
);
const { url } = await interceptor.start();
const token = await auth.sign({ sub: 'bench-user', scope: 'orders:read' });
const headers = { authorization: `Bearer ${token}` };

await run(`${bareUrl}/api/orders`, headers); // warm-up both paths (JIT, sockets, JWKS)
await run(`${url}/api/orders`, headers);
const base = await run(`${bareUrl}/api/orders`, headers);
const ic = await run(`${url}/api/orders`, headers);
const published = /audit_interceptor_published_records_total\{topic="audit.raw.v1"\} (\d+)/.exec(await interceptor.metrics.registry.metrics())?.[1];

const row = (name: string, r: Result) => `| ${name} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx + r.errors} |`;
process.stdout.write(
  [
    `connections=${connections}, ${seconds} s per target, node ${process.version}`,
    '| target | req/s | p50 ms | p99 ms | non-2xx+errors |',
    '| --- | --- | --- | --- | --- |',
    row('bare node proxy', base),
    row('interceptor (enforce, RS256)', ic),
    `throughput ratio: ${(ic.requests.average / base.requests.average).toFixed(2)}x (target >= 0.85x); added p99: ${(ic.latency.p99 - base.latency.p99).toFixed(1)} ms (target <= 1 ms); events published: ${published}`,
  ].join('\n') + '\n',
);

await interceptor.stop();
await closeServer(bare);
await closeServer(upstream);
await auth.close();
brokerProc.kill('SIGTERM');
await new Promise((r) => brokerProc.once('exit', r));
agent.destroy();
await rm(dir, { recursive: true, force: true });
