/**
 * A revocation endpoint (RFC 7009) whose response fails after its head: the client is answered
 * 502 (or gets a cut response), so the revocation is not known to have happened, and the edge
 * must neither record nor enforce it. Only a 200 that reached the client whole is a revocation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { prng, startStackWith, waitFor } from './testdata/harness.js';

const CRLF = '\r\n';

/** How the upstream's 200 to a revocation request fails: always after its head, before or inside its body. */
type Failure = 'close' | 'reset' | 'bad-chunk' | 'chunked-close' | 'stall' | 'cut';
const FAILURES: Failure[] = ['close', 'reset', 'bad-chunk', 'chunked-close', 'stall', 'cut'];

interface Case {
  failure: Failure;
  /** Extra header lines of the 200 head. */
  headers: string[];
  /** The declared body length (for the sized failures). */
  length: number;
}

function generateCases(seed: number, n: number): Case[] {
  const rnd = prng(seed);
  const extra = ['content-type: application/json', 'cache-control: no-store', 'pragma: no-cache', 'x-request-id: r', 'content-type: text/plain'];
  return Array.from({ length: n }, (_, i) => ({
    failure: FAILURES[i % FAILURES.length]!,
    headers: extra.filter(() => rnd() < 0.5),
    length: 2 + Math.floor(rnd() * 64),
  }));
}

/** An upstream over node:net: /oauth/revoke?c=<n> answers as case n says once the request body is in, /api/* answers 200. */
async function revocationUpstream(cases: Case[]) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const body = buf.subarray(end + 4);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      // the whole request first, as an authorization server reads it before it revokes
      if (length ? body.length < Number(length[1]) : /\r\ntransfer-encoding: *chunked/i.test(head) && !body.includes('0\r\n\r\n')) return;
      socket.removeAllListeners('data');
      const target = head.split(' ', 2)[1] ?? '';
      const m = /^\/oauth\/revoke\?c=(\d+)$/.exec(target);
      if (!m) {
        socket.end(`HTTP/1.1 200 OK${CRLF}content-length: 2${CRLF}connection: close${CRLF}${CRLF}ok`);
        return;
      }
      const c = cases[Number(m[1])];
      if (!c) {
        // the control: a revocation that succeeded
        socket.end(`HTTP/1.1 200 OK${CRLF}content-length: 0${CRLF}connection: close${CRLF}${CRLF}`);
        return;
      }
      const lines = [...c.headers, 'connection: close'];
      const sized = `HTTP/1.1 200 OK${CRLF}content-length: ${c.length}${CRLF}${lines.join(CRLF)}${CRLF}${CRLF}`;
      const chunked = `HTTP/1.1 200 OK${CRLF}transfer-encoding: chunked${CRLF}${lines.join(CRLF)}${CRLF}${CRLF}`;
      if (c.failure === 'close') socket.end(sized);
      else if (c.failure === 'reset') socket.write(sized, () => setTimeout(() => socket.resetAndDestroy(), 20));
      else if (c.failure === 'bad-chunk') socket.end(`${chunked}zz${CRLF}{}${CRLF}0${CRLF}${CRLF}`);
      else if (c.failure === 'chunked-close') socket.end(chunked);
      else if (c.failure === 'stall') socket.write(sized);
      else socket.end(`${sized}{"`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** POSTs a revocation request; the status, and whether the response was cut. */
function revoke(base: string, c: number, token: string, requestId: string): Promise<{ status: number; cut: boolean }> {
  const body = new URLSearchParams({ token, token_type_hint: 'access_token' }).toString();
  return new Promise((resolve) => {
    const req = http.request(
      `${base}/oauth/revoke?c=${c}`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'x-request-id': requestId },
      },
      (res) => {
        res.resume();
        const done = (cut: boolean) => resolve({ status: res.statusCode ?? 0, cut });
        res.on('end', () => done(!res.complete));
        res.on('error', () => done(true));
        res.on('aborted', () => done(true));
      },
    );
    req.on('error', () => resolve({ status: 0, cut: true }));
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.end(body);
  });
}

describe('a revocation response that fails after its head revokes nothing', () => {
  const cases = generateCases(7009, 48);
  let stack: Awaited<ReturnType<typeof startStackWith<Awaited<ReturnType<typeof revocationUpstream>>>>>;

  before(async () => {
    stack = await startStackWith(
      {
        name: 'revoke-failures',
        routes: [
          { name: 'revoke', path: '/oauth/revoke', methods: ['POST'], upstream: 'api', auth: 'none', tokenEndpoint: 'revocation' },
          { name: 'api', path: '/api/*', upstream: 'api' },
        ],
        config: { upstreamTimeoutMs: 1_000 },
      },
      await revocationUpstream(cases),
    );
  });
  after(async () => {
    await stack?.stop();
  });

  it(`${cases.length} generated 200 heads whose body then fails (close, reset, bad chunk, stall, cut): no revocation recorded or enforced, and no token.revoked`, async () => {
    const { url, interceptor, reader } = stack;
    const tokens = await Promise.all(cases.map((_, i) => stack.auth.sign({ sub: `user-${i}`, jti: `jti-failed-${i}` })));
    const answers = await Promise.all(cases.map((_, i) => revoke(url, i, tokens[i]!, `revoke-${i}`)));
    for (let i = 0; i < cases.length; i++) {
      const a = answers[i]!;
      const name = `case ${i} (${cases[i]!.failure})`;
      if (cases[i]!.failure === 'cut') assert.ok(a.status === 200 && a.cut, `${name}: a cut response, got ${a.status}`);
      else assert.ok(a.status === 502 || a.status === 504, `${name}: a 502 / 504 problem, got ${a.status}`);
    }
    // every failed exchange is audited, with why
    await waitFor('an event per failed revocation', () => cases.every((_, i) => reader.events.some((e) => e.http?.request.id === `revoke-${i}`)) || undefined);

    // the control: a revocation that reached the client whole is recorded and enforced (so the edge observes this route)
    const control = await stack.auth.sign({ sub: 'control', jti: 'jti-control' });
    assert.deepEqual(await revoke(url, cases.length, control, 'revoke-control'), { status: 200, cut: false });
    await waitFor('the control revocation', () => interceptor.revocations.isJtiRevoked('jti-control') || undefined);
    assert.equal((await fetch(`${url}/api/x`, { headers: { authorization: `Bearer ${control}` } })).status, 401);
    // the failed ones' observation would have run by now (the same verification as the control's, started earlier)
    await new Promise((r) => setTimeout(r, 200));

    const wrong: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const name = `case ${i} (${cases[i]!.failure}, ${cases[i]!.headers.join('; ')})`;
      const jti = decodeJwt(tokens[i]!).jti!;
      if (interceptor.revocations.isJtiRevoked(jti)) wrong.push(`${name}: ${jti} revoked`);
      const status = (await fetch(`${url}/api/x`, { headers: { authorization: `Bearer ${tokens[i]!}` } })).status;
      if (status !== 200) wrong.push(`${name}: the token is refused (${status})`);
      if (reader.events.some((e) => e.kind === 'token.revoked' && e.token?.jti === jti)) wrong.push(`${name}: token.revoked published`);
    }
    assert.deepEqual(wrong, []);
  });
});
