/**
 * The proxy reads the upstream's response through undici's dispatch handler API (proxy.ts,
 * UpstreamExchange) instead of undici's request(). These tests prove the two equal on generated
 * responses: the header object parsed from the raw head is undici's own parse, and what reaches
 * the client through the interceptor (status, every header, every body byte) is what request()
 * reads from the same upstream, passed through the same writableResponseHeaders.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { request as undiciRequest } from 'undici';
import { parseResponseHeaders, writableResponseHeaders } from './response-headers.js';
import { prng, startStackWith } from './testdata/harness.js';

// undici's own parse, the one request() applied (lib/core/util.js; undici 6 has no exports map)
const undiciUtil = createRequire(import.meta.url)('undici/lib/core/util.js') as {
  parseHeaders(raw: Buffer[]): Record<string, string | string[]>;
};

const CRLF = '\r\n';
const NAMES = ['Content-Type', 'set-cookie', 'X-Trace', 'x-trace', 'Cache-Control', 'ETag', 'Vary', 'Content-Disposition', 'Content-Length', 'x-a', 'X-B'];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** A header value: ASCII, Latin-1 bytes above 0x7f, UTF-8 sequences, or empty. */
function value(rnd: () => number): Buffer {
  const kind = Math.floor(rnd() * 5);
  if (kind === 0) return Buffer.alloc(0);
  if (kind === 1) return Buffer.from([0x61, 0xe9, 0x62, 0xff]);
  if (kind === 2) return Buffer.from('naïve €', 'utf8');
  const len = 1 + Math.floor(rnd() * 40);
  return Buffer.from(Array.from({ length: len }, () => 0x20 + Math.floor(rnd() * 95)));
}

describe('the upstream response through the dispatch handler', () => {
  it('parses 2,000 generated raw heads exactly as undici does', () => {
    const rnd = prng(21);
    for (let c = 0; c < 2000; c++) {
      const raw: Buffer[] = [];
      const n = Math.floor(rnd() * 12);
      for (let i = 0; i < n; i++) {
        const name = pick(rnd, NAMES);
        // random case, and now and then a Latin-1 byte in the name
        const spelled = Buffer.from([...name].map((ch) => (rnd() < 0.5 ? ch.toUpperCase() : ch.toLowerCase())).join(''), 'latin1');
        raw.push(rnd() < 0.05 ? Buffer.concat([spelled, Buffer.from([0xc9])]) : spelled, value(rnd));
      }
      assert.deepEqual({ ...parseResponseHeaders(raw) }, undiciUtil.parseHeaders(raw), `case ${c}`);
    }
  });

  describe('through the proxy', () => {
    interface Case {
      status: number;
      lines: Buffer[];
      body: Buffer;
      chunked: boolean;
      /** Sizes of the writes the upstream splits its bytes into. */
      splits: number[];
    }
    const cases: Case[] = [];
    const rnd = prng(2112);
    const statuses = [200, 201, 202, 203, 204, 206, 226, 299, 301, 302, 304, 307, 400, 401, 403, 404, 409, 418, 429, 451, 500, 502, 503, 599];
    for (let c = 0; c < 240; c++) {
      const status = pick(rnd, statuses);
      const bodiless = status === 204 || status === 304;
      const size = bodiless ? 0 : pick(rnd, [0, 1, 17, 1000, 16_384, 70_000, 300_000]);
      const body = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + c) & 0xff));
      const lines: Buffer[] = [];
      for (let i = Math.floor(rnd() * 8); i > 0; i--) {
        const name = pick(
          rnd,
          NAMES.filter((x) => x !== 'Content-Length'),
        );
        lines.push(Buffer.concat([Buffer.from(`${name}: `), value(rnd)]));
      }
      cases.push({ status, lines, body, chunked: !bodiless && rnd() < 0.5, splits: Array.from({ length: 4 }, () => 1 + Math.floor(rnd() * 9000)) });
    }

    const bytesOf = (k: Case): Buffer => {
      const head = [Buffer.from(`HTTP/1.1 ${k.status} Whatever${CRLF}`), ...k.lines.map((l) => Buffer.concat([l, Buffer.from(CRLF)]))];
      if (k.status === 204 || k.status === 304) return Buffer.concat([...head, Buffer.from(CRLF)]);
      if (!k.chunked) return Buffer.concat([...head, Buffer.from(`content-length: ${k.body.length}${CRLF}${CRLF}`), k.body]);
      const parts: Buffer[] = [...head, Buffer.from(`transfer-encoding: chunked${CRLF}${CRLF}`)];
      for (let at = 0, i = 0; at < k.body.length; i++) {
        const n = Math.min(k.splits[i % k.splits.length]!, k.body.length - at);
        parts.push(Buffer.from(`${n.toString(16)}${CRLF}`), k.body.subarray(at, at + n), Buffer.from(CRLF));
        at += n;
      }
      parts.push(Buffer.from(`0${CRLF}${CRLF}`));
      return Buffer.concat(parts);
    };

    // keep-alive upstream over node:net: answers /c/<n> with case n's bytes, written in pieces
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
          const head = buffered.slice(0, end);
          buffered = buffered.slice(end + 4);
          const k = cases[Number(/^\S+ \/c\/(\d+)/.exec(head)?.[1] ?? -1)];
          if (!k) {
            socket.end(`HTTP/1.1 404 Not Found${CRLF}content-length: 0${CRLF}${CRLF}`);
            return;
          }
          const bytes = bytesOf(k);
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const n = k.splits[i % k.splits.length]!;
            socket.write(bytes.subarray(at, at + n));
            at += n;
          }
        }
      });
    });
    let stack: Awaited<ReturnType<typeof startStackWith>>;
    let upstreamUrl: string;

    before(async () => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      stack = await startStackWith(
        { name: 'upstream-response', routes: [{ name: 'c', path: '/c/*', upstream: 'api', auth: 'none' }] },
        {
          url: upstreamUrl,
          close: () =>
            new Promise<void>((r) => {
              for (const s of sockets) s.destroy();
              server.close(() => r());
            }),
        },
      );
    });
    after(async () => {
      await stack?.stop();
    });

    /** What the plain path produced: undici's request() on the same upstream, its headers through writableResponseHeaders. */
    async function plain(i: number) {
      const r = await undiciRequest(`${upstreamUrl}/c/${i}`);
      const body = Buffer.from(await r.body.arrayBuffer());
      return { status: r.statusCode, headers: writableResponseHeaders(r.headers).headers, body };
    }

    function proxied(i: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: string[]; body: Buffer }> {
      return new Promise((resolve, reject) => {
        http
          .get(`${stack.url}/c/${i}`, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(parts) }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
    }

    it(`passes 240 generated responses (statuses, repeated and non-ASCII headers, sized and chunked bodies up to 300 KB, split writes) on exactly as request() read them`, async () => {
      for (let i = 0; i < cases.length; i++) {
        const [want, got] = await Promise.all([plain(i), proxied(i)]);
        assert.equal(got.status, want.status, `case ${i}: status`);
        assert.ok(got.body.equals(want.body), `case ${i}: body (${got.body.length} bytes, want ${want.body.length})`);
        // node's client strips a value's trailing whitespace (RFC 9110 5.5: OWS is not part of it)
        const ows = (x: string) => x.replace(/[ \t]+$/, '');
        // every field line the client received (its raw head, Latin-1 as on the wire) in order,
        // but the proxy's own framing and a Date node adds, is one request() read, in its order
        const framing = (k: string) => k === 'transfer-encoding' || k === 'content-length' || k === 'connection' || k === 'keep-alive';
        const expected: string[] = [];
        for (const [k, v] of Object.entries(want.headers)) if (!framing(k)) for (const x of Array.isArray(v) ? v : [v]) expected.push(`${k}: ${ows(x)}`);
        const actual: string[] = [];
        for (let j = 0; j < got.raw.length; j += 2) {
          const k = got.raw[j]!.toLowerCase();
          if (framing(k) || (k === 'date' && want.headers.date === undefined)) continue;
          actual.push(`${k}: ${ows(got.raw[j + 1]!)}`);
        }
        assert.deepEqual(actual, expected, `case ${i}: headers`);
        if (want.body.length > 0 && want.headers['content-length'] !== undefined)
          assert.equal(got.headers['content-length'], want.headers['content-length'], `case ${i}: content-length`);
      }
    });
  });
});
