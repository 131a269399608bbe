/**
 * What an upstream can do to the response path beyond malformed bytes (hostile-upstream.test.ts):
 * header names that are Object.prototype's, a body far larger than a slow client reads, and
 * upstream requests this proxy stops caring about (a client that leaves, a 413, a 408). Each
 * must reach the client as sent, or release the upstream connection, without buffering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { parseResponseHeaders, writableResponseHeaders } from './response-headers.js';
import { prng, startStackWith, waitFor } from './testdata/harness.js';

const CRLF = '\r\n';
/** Names an object literal already has (own or inherited), and their spellings. */
const PROTO_NAMES = [
  '__proto__',
  '__PROTO__',
  'constructor',
  'Constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
  'x-plain',
];
/** What the upstream's flood offers: far more than any buffer between it and a client that reads nothing. */
const FLOOD_BYTES = 256 * 1024 * 1024;

function bigBody(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i + n) & 0xff;
  return b;
}

/** An upstream over node:net whose answer the request's path names; it records each connection's close. */
async function scriptedUpstream() {
  const closed = new Set<string>();
  const received = new Map<string, number>();
  const flood = { offered: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      const at = head.indexOf('\r\n\r\n');
      if (at >= 0) {
        // the request body, counted per target
        const target = head.split(' ', 2)[1] ?? '';
        received.set(target, (received.get(target) ?? 0) + chunk.length);
        return;
      }
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const target = head.split(' ', 2)[1] ?? '';
      received.set(target, head.length - head.indexOf('\r\n\r\n') - 4);
      socket.once('close', () => closed.add(target));
      const lines = /^\/r\/proto\/(\d+)/.exec(target);
      if (lines) {
        // the header lines, base64url in the path, then a 2-byte body; the connection closes
        socket.end(
          `HTTP/1.1 200 OK${CRLF}content-length: 2${CRLF}connection: close${CRLF}${Buffer.from(target.split('/')[4]!, 'base64url').toString('latin1')}${CRLF}ok`,
        );
      } else if (target.startsWith('/r/big/')) {
        // a sized body of the named length, each byte its offset's low bits plus the length's
        const n = Number(target.slice('/r/big/'.length));
        socket.write(`HTTP/1.1 200 OK${CRLF}content-length: ${n}${CRLF}${CRLF}`);
        socket.write(bigBody(n));
        // a GET has no body: the connection's next bytes are the next request
        head = '';
      } else if (target === '/r/flood') {
        socket.write(`HTTP/1.1 200 OK${CRLF}content-type: application/octet-stream${CRLF}transfer-encoding: chunked${CRLF}${CRLF}`);
        const piece = Buffer.alloc(64 * 1024, 0x61);
        const frame = Buffer.concat([Buffer.from(`${piece.length.toString(16)}${CRLF}`), piece, Buffer.from(CRLF)]);
        const pump = () => {
          while (flood.offered < FLOOD_BYTES) {
            flood.offered += piece.length;
            if (!socket.write(frame)) return void socket.once('drain', pump);
          }
          socket.end(`0${CRLF}${CRLF}`);
        };
        pump();
      }
      // anything else (/r/hold/...): the request is read, never answered
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closed,
    received,
    flood,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('the response path and what an upstream or a client does to it', () => {
  it('keeps every header named after an Object.prototype member: 500 generated heads, as parsed, none lost or turned into a prototype', () => {
    const rnd = prng(1337);
    for (let c = 0; c < 500; c++) {
      const raw: Buffer[] = [];
      // the reference: a Map, which has no names of its own
      const want = new Map<string, string[]>();
      for (let i = 1 + Math.floor(rnd() * 6); i > 0; i--) {
        const name = PROTO_NAMES[Math.floor(rnd() * PROTO_NAMES.length)]!;
        const value = `v${c}-${i}`;
        raw.push(Buffer.from(name, 'latin1'), Buffer.from(value));
        want.set(name.toLowerCase(), [...(want.get(name.toLowerCase()) ?? []), value]);
      }
      const { headers, droppedCount } = writableResponseHeaders(parseResponseHeaders(raw));
      assert.equal(droppedCount, 0, `case ${c}`);
      const got = new Map(Object.keys(headers).map((k) => [k, ([] as string[]).concat(headers[k]!)]));
      assert.deepEqual(got, want, `case ${c}: ${raw.map(String).join(' ')}`);
      assert.equal(Object.getPrototypeOf(headers), null, `case ${c}: the header object's prototype is its own`);
    }
  });

  describe('through the proxy', () => {
    let stack: Awaited<ReturnType<typeof startStackWith<Awaited<ReturnType<typeof scriptedUpstream>>>>>;
    let url: string;
    let up: Awaited<ReturnType<typeof scriptedUpstream>>;

    before(async () => {
      up = await scriptedUpstream();
      stack = await startStackWith(
        {
          name: 'response-edges',
          routes: [{ name: 'r', path: '/r/*', upstream: 'api', auth: 'none' }],
          config: { upstreamTimeoutMs: 20_000, maxRequestBodyBytes: 64 * 1024, requestTimeoutMs: 1_500 },
        },
        up,
      );
      url = stack.url;
    });
    after(async () => {
      await stack?.stop();
    });

    it('forwards __proto__, constructor and their repeats to the client as the upstream sent them', async () => {
      const lines = ['__proto__: one', 'constructor: c1', 'Constructor: c2', '__Proto__: two', 'tostring: t', 'x-after: z'];
      const path = `/r/proto/1/${Buffer.from(`${lines.join(CRLF)}${CRLF}`, 'latin1').toString('base64url')}`;
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`${url}${path}`, { agent: false }, resolve).on('error', reject));
      const body: Buffer[] = [];
      for await (const c of res) body.push(c as Buffer);
      assert.equal(res.statusCode, 200);
      assert.equal(Buffer.concat(body).toString(), 'ok');
      const sent: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2)
        if (!['content-length', 'date', 'connection', 'keep-alive'].includes(res.rawHeaders[i]!.toLowerCase()))
          sent.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      assert.deepEqual(sent.sort(), ['__proto__: one', '__proto__: two', 'constructor: c1', 'constructor: c2', 'tostring: t', 'x-after: z']);
    });

    it('answers pipelined requests in order, each large body whole, while the client reads slowly', async () => {
      // node holds a pipelined request's response until the one before it is done: its writes are
      // buffered, answer false, and the upstream is paused until node drains it onto the socket
      const sizes = [3_000_000, 1_000_000, 2_500_000, 17, 1_500_000];
      const client = net.connect(Number(new URL(url).port), '127.0.0.1');
      client.on('error', () => {});
      client.write(sizes.map((n) => `GET /r/big/${n} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
      const got: Buffer[] = [];
      let size = 0;
      const want = Buffer.concat(sizes.map(bigBody));
      // the bodies, in order, once the heads are taken out (undefined until all arrived)
      const split = (raw: Buffer): Buffer[] | undefined => {
        const bodies: Buffer[] = [];
        let at = 0;
        for (const n of sizes) {
          const end = raw.indexOf('\r\n\r\n', at);
          if (end < 0 || end + 4 + n > raw.length) return undefined;
          assert.match(raw.subarray(at, end).toString('latin1'), new RegExp(`^HTTP/1.1 200 OK\r\ncontent-length: ${n}\r\n`));
          bodies.push(raw.subarray(end + 4, end + 4 + n));
          at = end + 4 + n;
        }
        return bodies;
      };
      const bodies = await waitFor(
        'every pipelined body',
        async () => {
          // a slow reader: what has arrived, every 5 ms
          let c: Buffer | null;
          while ((c = client.read() as Buffer | null) !== null) {
            got.push(c);
            size += c.length;
          }
          await new Promise((r) => setTimeout(r, 5));
          return size > want.length ? split(Buffer.concat(got)) : undefined;
        },
        30_000,
      );
      client.destroy();
      assert.ok(Buffer.concat(bodies).equals(want), 'every body byte for byte, in order');
    });

    it('a client that reads nothing holds the upstream back (backpressure, no unbounded buffer), and leaving closes the upstream connection', async () => {
      const client = net.connect(Number(new URL(url).port), '127.0.0.1');
      client.on('error', () => {});
      client.pause();
      client.write(`GET /r/flood HTTP/1.1\r\nHost: x\r\n\r\n`);
      // the upstream stops being able to write: its offer stays put while the client reads nothing
      let last = -1;
      await waitFor(
        'the upstream held back',
        async () => {
          const now = up.flood.offered;
          const settled = now > 0 && now === last;
          last = now;
          await new Promise((r) => setTimeout(r, 200));
          return settled || undefined;
        },
        15_000,
      );
      // socket buffers on both sides (loopback autotuning reaches several MiB each), never the flood
      assert.ok(up.flood.offered < 48 * 1024 * 1024, `the upstream got ${up.flood.offered} bytes out of ${FLOOD_BYTES} while the client read nothing`);
      client.destroy();
      await waitFor('the upstream connection closed', () => up.closed.has('/r/flood') || undefined, 10_000);
    });

    it('a 413 mid-body and a 408 slow body release the upstream request', async () => {
      // a chunked body past the 64 KiB cap: 413, and the upstream request already sent is cancelled
      const big = net.connect(Number(new URL(url).port), '127.0.0.1');
      let answer = '';
      big.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      big.on('error', () => {});
      big.write(`POST /r/hold/413 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const piece = `4000${CRLF}${'b'.repeat(0x4000)}${CRLF}`;
      for (let i = 0; i < 8; i++) big.write(piece);
      await waitFor('the 413', () => answer.startsWith('HTTP/1.1 413') || undefined, 10_000);
      await waitFor('the upstream request cancelled after the 413', () => up.closed.has('/r/hold/413') || undefined, 10_000);
      big.destroy();

      // a body that stops arriving: 408 once the request timeout passes, and the upstream request is cancelled
      const slow = net.connect(Number(new URL(url).port), '127.0.0.1');
      let slowAnswer = '';
      slow.on('data', (d: Buffer) => (slowAnswer += d.toString('latin1')));
      slow.on('error', () => {});
      slow.write(`POST /r/hold/408 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc`);
      await waitFor('the upstream has the request', () => up.received.has('/r/hold/408') || undefined, 10_000);
      await waitFor('the 408', () => slowAnswer.startsWith('HTTP/1.1 408') || undefined, 10_000);
      await waitFor('the upstream request cancelled after the 408', () => up.closed.has('/r/hold/408') || undefined, 10_000);
      slow.destroy();
    });
  });
});
