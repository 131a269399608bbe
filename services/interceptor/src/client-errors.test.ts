import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { eventCodec, type AuditEvent } from '@jwt-audit/events';
import { createClientErrorHandler, requestLine } from './client-errors.js';
import type { SpoolRecord } from './spool.js';
import { collectEvents, quietLogger, startStack, waitFor } from './testdata/harness.js';

/** What node refuses itself is answered with a problem document and audited. */
interface RefusedCase {
  name: string;
  /** Written at once; `then` runs after (a slow drip, a reset). */
  bytes: Buffer;
  then?: (s: Socket) => void;
  /** The status expected; 'either': node may accept it (then it is served as any request). */
  status: number | 'either';
  reason?: string;
  /** The event's path: the request line was readable. */
  path?: string;
}

const CRLF = '\r\n';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

function generateCases(): RefusedCase[] {
  const cases: RefusedCase[] = [];
  const at = () => `/ce/${cases.length}`;
  const head = (lines: Array<string | Buffer>, line = `GET ${at()} HTTP/1.1`) =>
    Buffer.concat([
      Buffer.from(`${line}${CRLF}host: x${CRLF}`, 'latin1'),
      ...lines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from(CRLF)])),
      Buffer.from(CRLF),
    ]);
  for (let b = 0; b < 256; b++) {
    const ch = String.fromCharCode(b);
    if (TOKEN.test(ch) || b === 0x3a || b === 0x0a || b === 0x0d) continue;
    const p = at();
    cases.push({
      name: `header name byte 0x${b.toString(16)}`,
      bytes: head([Buffer.concat([Buffer.from('x-a'), Buffer.from([b]), Buffer.from('b: v')])]),
      status: 400,
      reason: 'malformed_request',
      path: p,
    });
  }
  for (let b = 0; b < 0x20; b++) {
    if (b === 0x09 || b === 0x0a || b === 0x0d) continue;
    const p = at();
    cases.push({
      name: `header value byte 0x${b.toString(16)}`,
      bytes: head([Buffer.concat([Buffer.from('x-v: a'), Buffer.from([b]), Buffer.from('b')])]),
      status: 'either',
      path: p,
    });
  }
  for (const m of ['G ET', 'GE\u0000T', 'get', 'FOO', 'GETT', '', ' GET', 'GET\t', 'Ω'])
    cases.push({
      name: `method ${JSON.stringify(m)}`,
      bytes: Buffer.from(`${m} /ce/x HTTP/1.1${CRLF}host: x${CRLF}${CRLF}`, 'utf8'),
      status: 400,
      reason: 'malformed_request',
    });
  for (const v of ['HTTP/1.2', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/1', 'HTTP/', 'http/1.1', 'HTTP/1.1 ', 'HTTPS/1.1', 'HTTP/11'])
    cases.push({ name: `version ${JSON.stringify(v)}`, bytes: Buffer.from(`GET /ce/v ${v}${CRLF}host: x${CRLF}${CRLF}`), status: 'either' });
  // request smuggling probes: framing two parsers could read differently
  const smuggling: Array<[string, string[]]> = [
    ['content-length and chunked', ['content-length: 4', 'transfer-encoding: chunked']],
    ['two content-lengths', ['content-length: 4', 'content-length: 5']],
    ['content-length list', ['content-length: 4, 5']],
    ['negative content-length', ['content-length: -1']],
    ['content-length with sign', ['content-length: +4']],
    ['chunked, identity', ['transfer-encoding: chunked, identity']],
    ['xchunked', ['transfer-encoding: xchunked']],
    ['space before colon', ['transfer-encoding : chunked']],
    ['folded transfer-encoding', ['transfer-encoding:', ' chunked']],
    ['no host', []],
  ];
  for (const [name, lines] of smuggling) {
    const p = at();
    const bytes = name === 'no host' ? Buffer.from(`GET ${p} HTTP/1.1${CRLF}${CRLF}`) : Buffer.concat([head(lines), Buffer.from(`0${CRLF}${CRLF}`)]);
    cases.push({ name: `smuggling: ${name}`, bytes, status: 400, reason: 'malformed_request', path: p });
  }
  for (const bad of ['\n', '\r', '\rx']) {
    const p = at();
    cases.push({
      name: `bare line ending ${JSON.stringify(bad)}`,
      bytes: Buffer.from(`GET ${p} HTTP/1.1${CRLF}host: x${bad}x-a: b${CRLF}${CRLF}`),
      status: 'either',
      path: p,
    });
  }
  // heads too large: node's 431
  for (const kib of [17, 20, 64]) {
    const p = at();
    cases.push({
      name: `a ${kib} KiB header`,
      bytes: head([`x-big: ${'a'.repeat(kib * 1024)}`]),
      status: 431,
      reason: 'request_header_fields_too_large',
      path: p,
    });
  }
  {
    const p = at();
    cases.push({
      name: 'a 20 KiB bearer token',
      bytes: head([`authorization: Bearer ${'e'.repeat(20 * 1024)}`]),
      status: 431,
      reason: 'request_header_fields_too_large',
      path: p,
    });
  }
  // a malformed body of a request in flight: the exchange answers it
  for (const size of ['zz', '-1', 'fffffffffffffffffffff']) {
    const p = at();
    cases.push({
      name: `chunk size ${size}`,
      bytes: Buffer.concat([head(['transfer-encoding: chunked'], `POST ${p} HTTP/1.1`), Buffer.from(`${size}${CRLF}hello${CRLF}0${CRLF}${CRLF}`)]),
      status: 400,
      reason: 'malformed_request',
      path: p,
    });
  }
  {
    const p = at();
    cases.push({
      name: 'a 20 KiB chunk extension',
      bytes: Buffer.concat([
        head(['transfer-encoding: chunked'], `POST ${p} HTTP/1.1`),
        Buffer.from(`5;${'x'.repeat(20 * 1024)}${CRLF}hello${CRLF}0${CRLF}${CRLF}`),
      ]),
      status: 413,
      reason: 'chunk_extensions_too_large',
      path: p,
    });
  }
  // too slow: a head that never ends, a body that never arrives
  {
    const p = at();
    cases.push({ name: 'a head that never ends', bytes: Buffer.from(`GET ${p} HTTP/1.1${CRLF}host: x${CRLF}`), status: 408, reason: 'request_timeout' });
  }
  {
    const p = at();
    cases.push({
      name: 'a body that never arrives',
      bytes: head(['content-length: 1000'], `POST ${p} HTTP/1.1`),
      // biome-ignore lint/suspicious/noThenProperty: a case's follow-up step, never awaited as a promise
      then: (s) => {
        const drip = setInterval(() => (s.writable ? s.write('x') : clearInterval(drip)), 100);
        s.on('close', () => clearInterval(drip));
      },
      status: 408,
      reason: 'request_timeout',
      path: p,
    });
  }
  return cases;
}

function send(port: number, c: RefusedCase): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.write(c.bytes, () => c.then?.(s));
    // a case the server neither answers nor closes fails instead of hanging the test
    s.setTimeout(10_000, () => s.destroy());
  });
}

describe('requests node refuses are answered with a problem and audited', () => {
  const cases = generateCases();
  let stack: Awaited<ReturnType<typeof startStack>>;
  let port: number;
  let reader: Awaited<ReturnType<typeof collectEvents>>;

  before(async () => {
    stack = await startStack({
      name: 'client-errors',
      routes: [{ name: 'ce', path: '/ce/*', upstream: 'api', auth: 'none' }],
      config: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000, clientErrorEvents: { perSecond: 10_000, burst: 10_000 } },
    });
    port = Number(new URL(stack.url).port);
    reader = stack.reader;
  });

  after(async () => {
    await stack?.stop();
  });

  it('answers each generated malformed, oversized, slow or smuggling request with its status as a problem document, and publishes an http.exchange with the reason and the client address', async () => {
    const answers: string[] = new Array(cases.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next < cases.length) {
          const i = next++;
          answers[i] = await send(port, cases[i]!);
        }
      }),
    );
    const wrong: string[] = [];
    const expected: Array<{ c: RefusedCase; status: number }> = [];
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const a = answers[i]!;
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(a)?.[1] ?? 0);
      if (c.status === 'either') {
        if (status >= 400 && status !== 404) expected.push({ c, status });
        continue;
      }
      if (status !== c.status) wrong.push(`${c.name}: expected ${c.status}, got ${JSON.stringify(a.slice(0, 60))}`);
      else if (!/\r\ncontent-type: application\/problem\+json\r\n/i.test(a)) wrong.push(`${c.name}: no problem document`);
      expected.push({ c, status: c.status });
    }
    assert.deepEqual(wrong, []);

    const refused = (e: AuditEvent) => e.kind === 'http.exchange' && e.attributes['proxy.error'] !== undefined;
    // events whose request line was readable are matched by path; the rest by count per reason
    const withPath = expected.filter((x) => x.c.path);
    const events = await waitFor(
      'an event per refused request',
      () => {
        const got = reader.events.filter(refused);
        const byPath = new Map(got.map((e) => [e.http!.request.path, e]));
        return withPath.every((x) => byPath.has(x.c.path!)) && got.length >= expected.length ? { got, byPath } : undefined;
      },
      20_000,
    );
    for (const { c, status } of withPath) {
      const e = events.byPath.get(c.path!)!;
      assert.equal(e.http!.response!.status, status, c.name);
      assert.equal(e.outcome, 'failure', c.name);
      assert.equal(e.network!.clientIp, '127.0.0.1', c.name);
      if (c.reason) assert.equal(e.attributes['proxy.error'], c.reason, c.name);
    }
    const pathless = expected.filter((x) => !x.c.path && x.c.reason === 'malformed_request').length;
    const malformedWithoutPath = events.got.filter((e) => e.http!.request.path === '' && e.attributes['proxy.error'] === 'malformed_request');
    assert.ok(malformedWithoutPath.length >= pathless, `${malformedWithoutPath.length} events for ${pathless} unreadable request lines`);
    for (const e of malformedWithoutPath) assert.match(e.attributes['http.parseError'] ?? '', /^HPE_/);
    // never the raw bytes (a 20 KiB token among them) in an event
    for (const raw of reader.raw) assert.ok(!raw.includes('e'.repeat(1024)), 'the oversized token is not in any record');

    // and the interceptor still serves
    const ok = await fetch(`http://127.0.0.1:${port}/ce/after`);
    assert.equal(ok.status, 200);
  });

  it('a reset in the middle of a head is recorded as client_reset; an idle connection closing is not', async () => {
    const connect = async () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise<void>((r) => s.on('connect', () => r()));
      return s;
    };
    const resets = () => reader.events.filter((x) => x.attributes['proxy.error'] === 'client_reset');
    const partialHeadReset = async (p: string) => {
      const s = await connect();
      await new Promise<void>((r) => s.write(`GET ${p} HTTP/1.1\r\nhost: x\r\nx-partial: `, () => r()));
      await new Promise((r) => setTimeout(r, 100));
      s.resetAndDestroy();
    };
    await partialHeadReset('/ce/reset-1');
    const first = await waitFor('the reset event', () => resets()[0]);
    assert.equal(first.network!.clientIp, '127.0.0.1');
    assert.equal(first.http!.response!.status, 0);
    // not refusals: a connection that never sent a byte, and one that completed its request
    (await connect()).resetAndDestroy();
    const served = await connect();
    served.write('GET /ce/served HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise<void>((r) => served.once('data', () => r()));
    served.resetAndDestroy();
    // a second refusal after them: events from one client address stay in order on one partition
    await partialHeadReset('/ce/reset-2');
    await waitFor('the second reset event', () => resets().length >= 2);
    assert.equal(resets().length, 2);
  });
});

describe('client error events are rate-limited', () => {
  const fakeSocket = () => {
    const s = {
      writable: true,
      bytesRead: 10,
      remoteAddress: '::ffff:10.1.2.3',
      ended: '',
      end(data: string, cb: () => void) {
        this.ended = data;
        cb();
      },
      destroy() {
        this.writable = false;
      },
    };
    return s;
  };
  it('a flood becomes at most the burst at once, then the sustained rate; everything is counted and each refused socket is answered', () => {
    const records: SpoolRecord[] = [];
    let t = 1_000_000;
    const counted: Array<[string, boolean]> = [];
    const handle = createClientErrorHandler({
      source: { service: 'interceptor', instance: 't', environment: 'test' },
      sink: { enqueue: (r) => (records.push(...r), true), canAccept: () => true },
      logger: quietLogger(),
      eventsPerSec: 5,
      burst: 20,
      metrics: { clientError: (reason, recorded) => counted.push([reason, recorded]) },
      inFlight: () => ({ handled: false, served: false }),
      now: () => t,
    });
    const sockets = Array.from({ length: 1000 }, fakeSocket);
    for (const s of sockets)
      handle(Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD', rawPacket: Buffer.from('BAD / HTTP/1.1\r\n') }), s as unknown as Socket);
    assert.equal(records.length, 20);
    assert.equal(counted.length, 1000);
    assert.equal(counted.filter(([, r]) => r).length, 20);
    assert.ok(sockets.every((s) => s.ended.startsWith('HTTP/1.1 400 Bad Request\r\n') && !s.writable));
    t += 1_000;
    for (let i = 0; i < 100; i++) handle(Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW' }), fakeSocket() as unknown as Socket);
    assert.equal(records.length, 25);
    const e = eventCodec.decode(records[0]!.value!, records[0]!.headers as unknown as Parameters<typeof eventCodec.decode>[1]);
    assert.equal(e.network!.clientIp, '10.1.2.3');
    assert.equal(e.attributes['proxy.error'], 'malformed_request');
    assert.equal(e.attributes['http.parseError'], 'HPE_INVALID_METHOD');
  });

  it('reads the request line of what node could not parse, and nothing that is not one', () => {
    assert.deepEqual(requestLine(Buffer.from('GET /a/b?c=1 HTTP/1.1\r\nx: y')), { method: 'GET', path: '/a/b', query: 'c=1' });
    for (const bad of ['GET /a HTTP/1.1x', 'GET  /a HTTP/1.1', '\u0000\u0001', 'GET /a\u0000b HTTP/1.1', `GET /${'a'.repeat(5000)} HTTP/1.1`, ''])
      assert.equal(requestLine(Buffer.from(bad, 'latin1')), null, JSON.stringify(bad.slice(0, 20)));
    assert.equal(requestLine(undefined), null);
  });
});
