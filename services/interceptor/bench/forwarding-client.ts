/**
 * The upstream half of forwarding alone: what each HTTP client costs per request on this
 * process's CPU, same upstream (bench/upstream.ts, in its own process), same concurrency, rounds
 * interleaved. node:http with a keep-alive agent (what the bare proxy uses), undici's request()
 * (what the interceptor used until 2026-12-03) and undici's dispatch() with a handler that only
 * collects the body (what proxy.ts's UpstreamExchange does around its writes).
 *
 *   node --conditions=source --import tsx services/interceptor/bench/forwarding-client.ts
 *   BENCH_REQUESTS=20000 BENCH_CONCURRENCY=50 BENCH_ROUNDS=3 ...
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool, type Dispatcher } from 'undici';

const requests = Number(process.env.BENCH_REQUESTS ?? 20_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

const upstreamProc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fileURLToPath(new URL('./upstream.ts', import.meta.url))], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const first = await createInterface({ input: upstreamProc.stdout! })[Symbol.asyncIterator]().next();
const upstream = new URL((JSON.parse(first.value as string) as { url: string }).url);
const headers = { accept: 'application/json', 'x-forwarded-for': '127.0.0.1', traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` };

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const viaNodeHttp = () =>
  new Promise<number>((resolve, reject) => {
    const req = http.request({ hostname: upstream.hostname, port: upstream.port, path: '/api/orders', headers, agent }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
    });
    req.on('error', reject);
    req.end();
  });

const pool = new Pool(upstream.origin, { connections: 512 });
const viaRequest = async () => {
  const r = await pool.request({ method: 'GET', path: '/api/orders', headers });
  let n = 0;
  for await (const c of r.body) n += (c as Buffer).length;
  return n;
};

const viaDispatch = () =>
  new Promise<number>((resolve, reject) => {
    let n = 0;
    const handler: Dispatcher.DispatchHandlers = {
      onConnect() {},
      onHeaders: () => true,
      onData: (c) => {
        n += c.length;
        return true;
      },
      onComplete: () => resolve(n),
      onError: reject,
    };
    pool.dispatch({ method: 'GET', path: '/api/orders', headers }, handler);
  });

async function run(one: () => Promise<number>, n: number): Promise<{ cpuPerRequest: number; perSecond: number }> {
  let left = n;
  const start = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) if ((await one()) === 0) throw new Error('empty response');
    }),
  );
  const cpu = process.cpuUsage(start);
  return { cpuPerRequest: (cpu.user + cpu.system) / n, perSecond: n / ((performance.now() - t0) / 1000) };
}

const clients = { 'node:http + keep-alive agent': viaNodeHttp, 'undici Pool request()': viaRequest, 'undici Pool dispatch()': viaDispatch } as const;
const results = new Map<string, number[]>();
for (const one of Object.values(clients)) await run(one, 2_000); // warm-up: JIT, connections
for (let r = 1; r <= rounds; r++) {
  for (const [name, one] of Object.entries(clients)) {
    const { cpuPerRequest } = await run(one, requests);
    results.set(name, [...(results.get(name) ?? []), cpuPerRequest]);
  }
}
console.log(
  `node ${process.version}, ${requests} requests x ${rounds} rounds, ${concurrency} concurrent, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| client | CPU µs per request (this process, all threads), by round | least |');
console.log('| --- | --- | --- |');
for (const [name, xs] of results) console.log(`| ${name} | ${xs.map((x) => x.toFixed(1)).join(', ')} | ${Math.min(...xs).toFixed(1)} |`);
agent.destroy();
await pool.close();
upstreamProc.kill('SIGTERM');
