import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Interceptor } from './index.js';
import { collectEvents, startStackWith, waitFor } from './testdata/harness.js';

/**
 * An upstream that answers with raw bytes over node:net, so it can say what no HTTP library
 * would: the interceptor must answer every one of these with a problem document (or, for
 * headers node cannot write, the response without them), audit it, and keep serving.
 */
interface HostileCase {
  name: string;
  /** The bytes the upstream writes before closing the connection. */
  bytes: Buffer;
  /**
   * 'problem': a 502 problem document; 'dropped': the upstream's 200 minus the named header;
   * 'either': undici's parser may refuse it (502) or let it through (the 200, minus what node
   * cannot write); 'answered': a lenient parse may read it either way: any complete answer;
   * 'cut': a 502 if nothing of the body had gone out, a cut response otherwise.
   */
  expect: 'problem' | 'dropped' | 'either' | 'answered' | 'cut';
  /** The response carries a header node cannot write: forwarded, the event must name it. */
  badHeader?: boolean;
}

const CRLF = '\r\n';
const ok = (headerLines: Array<string | Buffer>, body = 'hello') =>
  Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK${CRLF}content-length: ${body.length}${CRLF}`),
    ...headerLines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from(CRLF)])),
    Buffer.from(CRLF + body),
  ]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

function generateCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  // header names with every byte that is not a token character
  for (let b = 0; b < 256; b++) {
    const ch = String.fromCharCode(b);
    if (TOKEN.test(ch) || b === 0x3a /* ':' ends the name */ || b === 0x0d || b === 0x0a) continue;
    cases.push({
      name: `header name byte 0x${b.toString(16)}`,
      bytes: ok([Buffer.concat([Buffer.from('x-bad'), Buffer.from([b]), Buffer.from('name: v')])]),
      expect: 'either',
      badHeader: true,
    });
  }
  // header values with every byte outside what a field value may hold, and bytes >= 0x80
  for (let b = 0; b < 256; b++) {
    if ((b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    cases.push({
      name: `header value byte 0x${b.toString(16)}`,
      bytes: ok([Buffer.concat([Buffer.from('x-bad-value: a'), Buffer.from([b]), Buffer.from('b')])]),
      expect: b >= 0x80 ? 'dropped' : 'either',
      badHeader: true,
    });
  }
  // UTF-8 beyond Latin-1, and broken UTF-8: the values node's writeHead refuses
  for (const v of ['€', '😀', '日本語', '\u{10ffff}', '\ud7ff'])
    cases.push({
      name: `utf-8 header value ${JSON.stringify(v)}`,
      bytes: ok([Buffer.concat([Buffer.from('x-utf8: '), Buffer.from(v, 'utf8')])]),
      expect: 'dropped',
      badHeader: true,
    });
  for (const seq of [[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xff, 0xfe]])
    cases.push({
      name: `broken utf-8 ${seq.join(',')}`,
      bytes: ok([Buffer.concat([Buffer.from('x-broken: '), Buffer.from(seq)])]),
      expect: 'dropped',
      badHeader: true,
    });
  // a bad header among good ones: only the bad one goes
  cases.push({
    name: 'bad header among good',
    bytes: ok(['x-good: 1', Buffer.concat([Buffer.from('x-bad: '), Buffer.from('€')]), 'x-good-2: 2']),
    expect: 'dropped',
    badHeader: true,
  });
  // bad status lines
  for (const line of [
    'HTTP/1.1 abc OK',
    'HTTP/1.1 99 Low',
    'HTTP/1.1 1000 High',
    'HTTP/1.1 600 Odd',
    'HTTP/1.1 999 Odd',
    'HTTP/1.1 000 Zero',
    'HTTP/1.1 -200 Neg',
    'HTTP/1.1  200 OK',
    'HTTP/1.1 20 OK',
    'HTTP/1.1 2000 OK',
    'FOO',
    '',
    ' ',
    'HTTP/1.1',
    'HTTP/1.1 200\u0000OK',
    'http/1.1 200 OK',
    'ICY 200 OK',
    'HTTP/1.1 +200 OK',
    'HTTP/1.1 0x1 OK',
  ]) {
    cases.push({
      name: `status line ${JSON.stringify(line)}`,
      bytes: Buffer.from(`${line}${CRLF}content-length: 2${CRLF}${CRLF}ok`, 'latin1'),
      expect: 'problem',
    });
  }
  // undici reads these leniently (another version, a bare CR ending the reason, a long reason)
  for (const line of ['HTTP/2.0 200 OK', 'HTTP/0.9 200 OK', 'HTTP/1.1 200 O\rK', `HTTP/1.1 200 ${'O'.repeat(65_536)}`]) {
    cases.push({
      name: `status line ${JSON.stringify(line.slice(0, 24))}`,
      bytes: Buffer.from(`${line}${CRLF}content-length: 2${CRLF}${CRLF}ok`, 'latin1'),
      expect: 'answered',
    });
  }
  for (let i = 0; i < 16; i++)
    cases.push({
      name: `binary garbage ${i}`,
      bytes: Buffer.from(Array.from({ length: 64 + i * 13 }, (_, j) => (j * 37 + i * 101 + 7) % 256)),
      expect: 'problem',
    });
  // framing headers that disagree: a response whose length two parsers could read differently
  const framing: Array<[string, string]> = [
    ['two content-length', `content-length: 5${CRLF}content-length: 6`],
    ['content-length list', 'content-length: 5, 6'],
    ['content-length and chunked', `content-length: 5${CRLF}transfer-encoding: chunked`],
    ['chunked twice', 'transfer-encoding: chunked, chunked'],
    ['negative length', 'content-length: -5'],
    ['hex length', 'content-length: 0x5'],
    ['length with sign', 'content-length: +5'],
    ['length with space', 'content-length: 5 5'],
    ['length overflow', 'content-length: 99999999999999999999999999'],
    ['empty length', 'content-length: '],
    ['length in a folded line', `content-length: 5${CRLF} 6`],
    ['space before colon', 'content-length : 5'],
  ];
  for (const [name, lines] of framing)
    cases.push({ name: `framing: ${name}`, bytes: Buffer.from(`HTTP/1.1 200 OK${CRLF}${lines}${CRLF}${CRLF}hello`), expect: 'problem' });
  // RFC 9112 6.3: chunked not last in a response means the body runs to the close
  cases.push({
    name: 'framing: chunked not last',
    bytes: Buffer.from(`HTTP/1.1 200 OK${CRLF}transfer-encoding: chunked, gzip${CRLF}${CRLF}hello`),
    expect: 'answered',
  });
  // a chunked body that is broken before its first byte: nothing went out, so a problem
  for (const size of ['zz', '-1', '0x5', 'ffffffffffffffffffff', ' 5', '5\u0000', '5 ;x']) {
    cases.push({
      name: `bad chunk size ${JSON.stringify(size)}`,
      bytes: Buffer.from(`HTTP/1.1 200 OK${CRLF}transfer-encoding: chunked${CRLF}${CRLF}${size}${CRLF}hello${CRLF}0${CRLF}${CRLF}`),
      expect: 'problem',
    });
  }
  // ... and after the first chunk: a cut response
  for (const size of ['zz', '-1', 'ffffffffffffffffffff']) {
    cases.push({
      name: `bad second chunk size ${JSON.stringify(size)}`,
      bytes: Buffer.from(`HTTP/1.1 200 OK${CRLF}transfer-encoding: chunked${CRLF}${CRLF}2${CRLF}he${CRLF}${size}${CRLF}llo${CRLF}0${CRLF}${CRLF}`),
      expect: 'cut',
    });
  }
  cases.push({
    name: 'chunk extension of 10 KiB',
    bytes: Buffer.from(`HTTP/1.1 200 OK${CRLF}transfer-encoding: chunked${CRLF}${CRLF}5;${'x'.repeat(10_240)}${CRLF}hello${CRLF}0${CRLF}${CRLF}`),
    expect: 'answered',
  });
  // early closes: every prefix of a valid head (the connection closes before the head ends)
  const head = `HTTP/1.1 200 OK${CRLF}content-type: text/plain${CRLF}content-length: 5${CRLF}${CRLF}`;
  for (let n = 0; n < head.length; n += 3) cases.push({ name: `close after ${n} head bytes`, bytes: Buffer.from(head.slice(0, n)), expect: 'problem' });
  // ... and inside the body: the head went out, the client gets a cut response
  cases.push({ name: 'close before the body', bytes: Buffer.from(head), expect: 'problem' });
  for (let n = 1; n < 5; n++) cases.push({ name: `close after ${n} body bytes`, bytes: Buffer.from(head + 'hello'.slice(0, n)), expect: 'cut' });
  // 1xx floods: with no final response, and with a final response carrying a header node refuses
  for (const n of [1, 10, 100, 2000]) {
    cases.push({ name: `${n} x 100 Continue then close`, bytes: Buffer.from(`HTTP/1.1 100 Continue${CRLF}${CRLF}`.repeat(n)), expect: 'problem' });
    cases.push({
      name: `${n} x 103 Early Hints then a bad header`,
      bytes: Buffer.concat([
        Buffer.from(`HTTP/1.1 103 Early Hints${CRLF}link: </a>; rel=preload${CRLF}${CRLF}`.repeat(n)),
        ok([Buffer.concat([Buffer.from('x-after-hints: '), Buffer.from('€')])]),
      ]),
      expect: 'dropped',
      badHeader: true,
    });
  }
  cases.push({
    name: '101 Switching Protocols unasked',
    bytes: Buffer.from(`HTTP/1.1 101 Switching Protocols${CRLF}upgrade: websocket${CRLF}connection: upgrade${CRLF}${CRLF}`),
    expect: 'problem',
  });
  // huge heads
  for (const kib of [17, 64, 512]) cases.push({ name: `one ${kib} KiB header`, bytes: ok([`x-huge: ${'a'.repeat(kib * 1024)}`]), expect: 'problem' });
  cases.push({ name: '5000 headers', bytes: ok(Array.from({ length: 5000 }, (_, i) => `x-h${i}: ${i}`)), expect: 'problem' });
  return cases;
}

async function startHostileUpstream(cases: HostileCase[]) {
  const server = net.createServer((socket) => {
    let head = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const target = head.split(' ', 2)[1] ?? '';
      const m = /^\/h\/(\d+)/.exec(target);
      socket.removeAllListeners('data');
      if (!m) {
        socket.end(`HTTP/1.1 200 OK${CRLF}content-type: text/plain${CRLF}content-length: 2${CRLF}connection: close${CRLF}${CRLF}ok`);
        return;
      }
      socket.end(cases[Number(m[1])]!.bytes);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The response could not be read to its end (cut by the proxy). */
  cut: boolean;
}

function request(base: string, p: string, requestId: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get(`${base}${p}`, { headers: { 'x-request-id': requestId }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (cut: boolean) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), cut });
      res.on('end', () => done(!res.complete));
      res.on('error', () => done(true));
      res.on('aborted', () => done(true));
    });
    // no answer at all (the connection closed before a status line) is an answer the assertions refuse, per case
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: `(no response: ${err.message})`, cut: true }));
    // a proxy that never answers fails the case instead of hanging the test
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
  });
}

describe('a hostile upstream cannot break the response path', () => {
  const cases = generateCases();
  let stack: Awaited<ReturnType<typeof startStackWith<Awaited<ReturnType<typeof startHostileUpstream>>>>>;
  let interceptor: Interceptor;
  let url: string;
  let opsUrl: string;
  let reader: Awaited<ReturnType<typeof collectEvents>>;

  before(async () => {
    stack = await startStackWith(
      {
        name: 'hostile',
        routes: [
          { name: 'hostile', path: '/h/*', upstream: 'api', auth: 'none' },
          { name: 'ok', path: '/ok', upstream: 'api', auth: 'none' },
        ],
        config: { upstreamTimeoutMs: 5_000 },
        ops: true,
      },
      await startHostileUpstream(cases),
    );
    ({ interceptor, url, reader } = stack);
    opsUrl = stack.opsUrl!;
  });

  after(async () => {
    await stack?.stop();
  });

  it(`answers ${cases.length} generated malformed responses with a problem document or without the bad headers, audits each, and serves the next request`, async () => {
    const answers: Answer[] = new Array(cases.length);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        answers[i] = await request(url, `/h/${i}`, `hostile-${i}`);
        // after every hostile answer a valid exchange still goes through
        const good = await request(url, '/ok', `ok-${i}`);
        assert.equal(good.status, 200, `after ${cases[i]!.name}: the next request was answered ${good.status}`);
        assert.equal(good.body, 'ok');
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    let problems = 0;
    let dropped = 0;
    const wrong: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok) wrong.push(what);
    };
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const a = answers[i]!;
      const isProblem =
        a.status === 502 &&
        a.headers['content-type'] === 'application/problem+json' &&
        JSON.parse(a.body).type === 'https://jwt-audit.dev/problems/bad-gateway';
      const isForwarded = a.status === 200 && a.body === 'hello' && !a.cut;
      const got = `got ${a.status} ${a.body.slice(0, 60)}`;
      if (c.expect === 'problem') check(isProblem, `${c.name}: expected a 502 problem, ${got}`);
      else if (c.expect === 'dropped') check(isForwarded, `${c.name}: expected the 200 without the bad header, ${got}`);
      else if (c.expect === 'either') check(isProblem || isForwarded, `${c.name}: expected a 502 problem or the 200, ${got}`);
      else if (c.expect === 'answered') check(isProblem || (a.status === 200 && !a.cut), `${c.name}: expected a complete answer, ${got}`);
      else check(a.status === 200 && a.cut, `${c.name}: expected a cut response, ${got}`);
      if (isProblem) problems++;
      if (isForwarded && c.badHeader) dropped++;
      // no header node would refuse reached the client, and none of the hostile ones did at all
      for (const name of Object.keys(a.headers)) check(!/^x-(bad|utf8|broken|after-hints)/.test(name), `${c.name}: ${name} reached the client`);
    }
    assert.deepEqual(wrong, []);
    assert.ok(problems > 50 && dropped > 50, `both paths exercised (problems ${problems}, dropped ${dropped})`);

    // every hostile exchange is audited, with why
    const byId = () => new Map(reader.events.filter((e) => e.http?.request.id?.startsWith('hostile-')).map((e) => [e.http!.request.id!, e]));
    const events = await waitFor(
      'an event per hostile exchange',
      () => {
        const m = byId();
        return m.size >= cases.length ? m : undefined;
      },
      20_000,
    );
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const a = answers[i]!;
      const e = events.get(`hostile-${i}`)!;
      assert.equal(e.kind, 'http.exchange', c.name);
      if (a.status === 502) {
        assert.equal(e.http!.response!.status, 502, c.name);
        assert.match(e.attributes['proxy.error'] ?? '', /^upstream_/, `${c.name}: the reason is on the event`);
      } else if (c.expect !== 'cut') {
        assert.equal(e.http!.response!.status, 200, c.name);
        if (c.badHeader) assert.match(e.attributes['proxy.droppedHeaders'] ?? '', /^x-/, `${c.name}: the dropped header is named on the event`);
      } else {
        assert.match(e.attributes['proxy.error'] ?? '', /^upstream_/, `${c.name}: a cut response says why`);
      }
    }
    const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
    const droppedMetric = /^audit_interceptor_dropped_response_headers_total(?:\{[^}]*\})? (\d+)/m.exec(metrics);
    assert.ok(droppedMetric && Number(droppedMetric[1]) >= dropped, 'dropped headers are counted');
    assert.match(metrics, /^audit_interceptor_exchange_errors_total\{reason="upstream_[a-z_]+"\} \d+/m);
  });

  it('an exception inside the interceptor ends that exchange alone: a 500 problem, an audited http.exchange with the reason, and the next request served', async () => {
    const engine = interceptor.engine;
    const begin = engine.begin.bind(engine);
    const upstreamHeaders = engine.upstreamHeaders.bind(engine);
    // a bug before the exchange exists (in the decision) and one after (building the upstream request)
    engine.begin = async (req, route) => {
      if (req.headers['x-request-id'] === 'bug-in-begin') throw new Error('a bug in begin');
      return begin(req, route);
    };
    engine.upstreamHeaders = (req, ctx) => {
      if (req.headers['x-request-id'] === 'bug-in-forward') throw new Error('a bug in forward');
      return upstreamHeaders(req, ctx);
    };
    try {
      for (const id of ['bug-in-begin', 'bug-in-forward']) {
        const a = await request(url, '/ok', id);
        assert.equal(a.status, 500, id);
        assert.equal(a.headers['content-type'], 'application/problem+json');
        assert.equal(JSON.parse(a.body).type, 'https://jwt-audit.dev/problems/internal');
        assert.doesNotMatch(a.body, /a bug in/, 'the error itself is not shown to the client');
        const e = await waitFor(`the event of ${id}`, () => reader.events.find((x) => x.http?.request.id === id));
        assert.equal(e.kind, 'http.exchange');
        assert.equal(e.outcome, 'failure');
        assert.equal(e.http!.response!.status, 500);
        assert.equal(e.http!.request.path, '/ok');
        assert.equal(e.network!.clientIp, '127.0.0.1');
        assert.equal(e.attributes['proxy.error'], 'internal');
        const next = await request(url, '/ok', `${id}-next`);
        assert.equal(next.status, 200);
      }
    } finally {
      engine.begin = begin;
      engine.upstreamHeaders = upstreamHeaders;
    }
    assert.match(await (await fetch(`${opsUrl}/metrics`)).text(), /^audit_interceptor_exchange_errors_total\{reason="internal"\} 2$/m);
  });
});
