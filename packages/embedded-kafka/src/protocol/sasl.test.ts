import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { makeTestPki, type TestPki } from '@jwt-audit/runtime/testing/pki';
import { RawConnection } from '../testdata/wire.js';
import { Writer } from './primitives.js';

const USERS = { audit: 'pa55-wörd,=x', 'we=ird,name': 'second' };
const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

let pki: TestPki;
let plainSasl: Broker;
let tlsSasl: Broker;
const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ekafka-sasl-'));
  dirs.push(d);
  return d;
};

before(async () => {
  pki = makeTestPki();
  plainSasl = await startBroker({ dir: dir(), port: 0, initialRebalanceDelayMs: 0, sasl: { users: USERS } });
  tlsSasl = await startBroker({
    dir: dir(),
    port: 0,
    initialRebalanceDelayMs: 0,
    autoCreateTopics: true,
    sasl: { users: USERS },
    tls: { key: pki.key, cert: pki.cert },
  });
});
after(async () => {
  await Promise.all([plainSasl?.close(), tlsSasl?.close()]);
  for (const d of [...dirs, pki.dir]) rmSync(d, { recursive: true, force: true });
});

function client(broker: Broker, sasl: SASLOptions | undefined, ssl: boolean) {
  return new Kafka({
    clientId: 'sasl-test',
    brokers: [broker.address],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 5_000,
    ...(sasl ? { sasl } : {}),
    ...(ssl ? { ssl: { ca: [pki.ca] } } : {}),
  });
}

for (const transport of ['SASL_PLAINTEXT', 'SASL_SSL'] as const) {
  for (const mechanism of MECHANISMS) {
    for (const [username, password] of Object.entries(USERS)) {
      test(`${transport} ${mechanism} as ${JSON.stringify(username)}: kafkajs produces and consumes`, async () => {
        const broker = transport === 'SASL_SSL' ? tlsSasl : plainSasl;
        const kafka = client(broker, { mechanism, username, password } as SASLOptions, transport === 'SASL_SSL');
        const topic = `t-${transport}-${mechanism}-${username.replace(/\W/g, '')}`;
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
        await admin.disconnect();
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] });
        await producer.disconnect();
        const consumer = kafka.consumer({ groupId: `g-${topic}` });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const got = await new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) }));
        await consumer.disconnect();
        assert.equal(got, 'hello');
      });
    }
  }
}

test('wrong passwords, unknown users and mechanisms the listener does not offer are refused with the SASL error, every mechanism, both transports', async () => {
  const offersScram512Only = await startBroker({ dir: dir(), port: 0, sasl: { users: USERS, mechanisms: ['SCRAM-SHA-512'] } });
  try {
    const cases: { broker: Broker; ssl: boolean; sasl: SASLOptions; want: RegExp }[] = [];
    for (const [broker, ssl] of [
      [plainSasl, false],
      [tlsSasl, true],
    ] as const) {
      for (const mechanism of MECHANISMS) {
        cases.push({ broker, ssl, sasl: { mechanism, username: 'audit', password: 'wrong' } as SASLOptions, want: /SASL|[Aa]uthentication failed/ });
        cases.push({ broker, ssl, sasl: { mechanism, username: 'nobody', password: USERS.audit } as SASLOptions, want: /SASL|[Aa]uthentication failed/ });
        cases.push({
          broker,
          ssl,
          sasl: { mechanism, username: 'audit', password: USERS.audit.slice(0, -1) } as SASLOptions,
          want: /SASL|[Aa]uthentication failed/,
        });
      }
    }
    cases.push({
      broker: offersScram512Only,
      ssl: false,
      sasl: { mechanism: 'plain', username: 'audit', password: USERS.audit },
      want: /does not support the requested SASL mechanism|not supported by the server/,
    });
    cases.push({
      broker: offersScram512Only,
      ssl: false,
      sasl: { mechanism: 'scram-sha-256', username: 'audit', password: USERS.audit },
      want: /does not support the requested SASL mechanism|not supported by the server/,
    });
    for (const c of cases) {
      const admin = client(c.broker, c.sasl, c.ssl).admin();
      await assert.rejects(admin.connect(), (err: Error) => c.want.test(err.message) || assert.fail(`${JSON.stringify(c.sasl)}: ${err.name}: ${err.message}`));
      await admin.disconnect();
    }
    // A client without SASL on a SASL listener: the first request past ApiVersions closes the connection.
    const anonymous = client(plainSasl, undefined, false).admin();
    await assert.rejects(anonymous.connect().then(() => anonymous.listTopics()));
    await anonymous.disconnect();
    // And the listener still serves the right user afterwards.
    const admin = client(plainSasl, { mechanism: 'scram-sha-512', username: 'audit', password: USERS.audit }, false).admin();
    await admin.connect();
    assert.ok(Array.isArray(await admin.listTopics()));
    await admin.disconnect();
  } finally {
    await offersScram512Only.close();
  }
});

function handshake(mechanism: string): Buffer {
  return new Writer().string(mechanism).toBuffer();
}
function authenticate(bytes: Buffer): Buffer {
  return new Writer().bytes(bytes).toBuffer();
}

test('raw wire: no request but ApiVersions and SASL before authenticating; hostile SCRAM and PLAIN messages are refused and close only that connection', async () => {
  const early = await RawConnection.open(plainSasl.port);
  early.socket.write(Buffer.from([0, 0, 0, 12, 0, 3, 0, 1, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff].slice(0, 16)));
  await early.waitClosed();

  const nonce = 'fyko+d2lbbFgONRv9qkxdawL';
  const bad: { mech: string; first: string; final?: (serverFirst: string) => string }[] = [
    { mech: 'PLAIN', first: '\0audit' },
    { mech: 'PLAIN', first: 'other\0audit\0' + USERS.audit },
    { mech: 'PLAIN', first: '\0audit\0' + USERS.audit + '\0' },
    { mech: 'PLAIN', first: '' },
    { mech: 'SCRAM-SHA-256', first: 'garbage' },
    { mech: 'SCRAM-SHA-256', first: 'p=tls-unique,,n=audit,r=' + nonce },
    { mech: 'SCRAM-SHA-256', first: 'n,,n=au=dit,r=' + nonce },
    { mech: 'SCRAM-SHA-512', first: 'n,,n=audit,r=' },
    { mech: 'SCRAM-SHA-512', first: `n,,n=audit,r=${nonce}`, final: () => 'c=biws,r=wrongnonce,p=AAAA' },
    { mech: 'SCRAM-SHA-512', first: `n,,n=audit,r=${nonce}`, final: (sf) => `c=biws,${sf.split(',')[0]},p=${Buffer.alloc(64).toString('base64')}` },
    {
      mech: 'SCRAM-SHA-512',
      first: `n,,n=audit,r=${nonce}`,
      final: (sf) => `c=${Buffer.from('y,,').toString('base64')},${sf.split(',')[0]},p=${Buffer.alloc(64).toString('base64')}`,
    },
    { mech: 'SCRAM-SHA-512', first: `n,,n=audit,r=${nonce}`, final: (sf) => `c=biws,${sf.split(',')[0]},p=` },
    { mech: 'SCRAM-SHA-512', first: `n,,n=audit,r=${nonce}`, final: (sf) => `c=biws,${sf.split(',')[0]},p=${Buffer.alloc(3).toString('base64')}` },
  ];
  // And random bytes as each message, for every mechanism.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (const mech of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    for (let i = 0; i < 20; i++) bad.push({ mech, first: Buffer.from(Array.from({ length: rnd() % 200 }, () => rnd() % 256)).toString('latin1') });
  }
  for (const c of bad) {
    const conn = await RawConnection.open(plainSasl.port);
    const hs = await conn.request(17, 1, handshake(c.mech));
    assert.equal(hs.readInt16BE(0), 0, `${c.mech} offered`);
    let body = await conn.request(36, 1, authenticate(Buffer.from(c.first, 'latin1')));
    if (c.final && body.readInt16BE(0) === 0) {
      const serverFirst = body.subarray(4, 4 + body.readInt32BE(2 + 2)).toString('utf8');
      body = await conn.request(36, 1, authenticate(Buffer.from(c.final(serverFirst.startsWith('r=') ? serverFirst : body.toString('utf8')), 'utf8')));
    }
    assert.equal(body.readInt16BE(0), 58, `${JSON.stringify(c.first).slice(0, 60)}: SASL_AUTHENTICATION_FAILED`);
    await conn.waitClosed();
  }
  // An unknown mechanism and a second handshake.
  const conn = await RawConnection.open(plainSasl.port);
  assert.equal((await conn.request(17, 1, handshake('GSSAPI'))).readInt16BE(0), 33);
  await conn.waitClosed();
  // The broker still serves a real client.
  const admin = client(plainSasl, { mechanism: 'scram-sha-256', username: 'audit', password: USERS.audit }, false).admin();
  await admin.connect();
  await admin.disconnect();
});

test('librdkafka (kcat) speaks SASL_SSL with SCRAM-SHA-512 and PLAIN to the broker, verifying its certificate, and is refused with a wrong password', async () => {
  const kcat = (mech: string, password: string, ...args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile(
        'kcat',
        [
          '-b',
          tlsSasl.address,
          '-X',
          'security.protocol=SASL_SSL',
          '-X',
          `sasl.mechanisms=${mech}`,
          '-X',
          'sasl.username=audit',
          '-X',
          `sasl.password=${password}`,
          '-X',
          `ssl.ca.location=${pki.caFile}`,
          ...args,
        ],
        { timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
      );
      if (args.includes('-P')) child.stdin!.end('from-kcat\n');
    });
  for (const mech of ['SCRAM-SHA-512', 'PLAIN']) {
    const topic = `kcat-${mech.toLowerCase()}`;
    {
      const p = await kcat(mech, USERS.audit, '-P', '-t', topic);
      assert.equal(p.code, 0, `${mech} produce: ${p.out}`);
    }
    const read = await kcat(mech, USERS.audit, '-C', '-t', topic, '-o', 'beginning', '-c', '1', '-e');
    assert.equal(read.code, 0, read.out);
    assert.match(read.out, /from-kcat/);
  }
  const refused = await kcat('SCRAM-SHA-512', 'wrong', '-L', '-m', '10');
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /[Aa]uthentication failed|SASL/);
});
