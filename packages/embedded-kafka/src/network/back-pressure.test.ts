import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { buildBatch, fetchBody, produceBody, RawConnection, readFetchResult, readProduceResult } from '../testdata/wire.js';
import { until } from '@jwt-audit/runtime/testing/wait';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const start = (o: Parameters<typeof startBroker>[0] extends infer T ? Partial<T> : never = {}) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ekafka-bp-'));
  dirs.push(dir);
  return startBroker({ dir, port: 0, ...o });
};

/** polled every 10 ms: the states waited for here are short-lived */
const waitFor = <T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000) =>
  until(what, check, { timeoutMs: ms, intervalMs: 10 });

const kafkaOf = (b: Broker) => new Kafka({ brokers: [b.address], clientId: 'bp', logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });

/** Fills partition 0 of `topic` with `n` batches of one `size`-byte record each, over a raw connection. */
async function fill(b: Broker, topic: string, n: number, size: number): Promise<void> {
  const c = await RawConnection.open(b.port);
  for (let i = 0; i < n; i++) {
    const res = readProduceResult(await c.request(0, 3, produceBody(topic, buildBatch([{ value: Buffer.alloc(size, i % 256) }]))));
    assert.equal(res.error, 0);
  }
  c.close();
}

test('a client that pipelines Fetch requests and never reads holds one response in the broker (Kafka SocketServer: the channel is muted until its response is sent)', async () => {
  const broker = await start();
  const admin = kafkaOf(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'pipelined', numPartitions: 1 }] });
  await fill(broker, 'pipelined', 8, 512 * 1024); // 4 MiB
  const base = broker.stats().requestsHandled;

  const greedy = await RawConnection.open(broker.port);
  greedy.socket.pause(); // reads nothing
  const fetch = fetchBody('pipelined', [{ partition: 0, offset: 0, maxBytes: 16 << 20 }], { maxBytes: 16 << 20 });
  const { frame } = await import('../testdata/wire.js');
  greedy.socket.write(Buffer.concat(Array.from({ length: 24 }, (_, i) => frame(1, 4, i + 1, fetch))));

  await waitFor('a response blocked on the unread socket', () => broker.stats().blockedResponses === 1);
  const handled = broker.stats().requestsHandled - base;
  // The kernel's socket buffers take a few responses; everything else waits unread in them, not in the broker.
  await new Promise((r) => setTimeout(r, 300));
  const st = broker.stats();
  assert.equal(st.requestsHandled - base, handled, 'no request is read while its predecessor is unsent');
  assert.ok(handled < 24, `${handled} of 24 handled before the broker stopped reading`);
  assert.equal(st.blockedResponses, 1);
  assert.ok(st.blockedResponseBytes <= 4.5 * 1024 * 1024, `one response held: ${st.blockedResponseBytes} bytes`);
  assert.equal(st.inFlightRequests, 0, 'no request buffer held');

  // every other client is served meanwhile
  const offsets = await admin.fetchTopicOffsets('pipelined');
  assert.equal(offsets[0]!.high, '8');

  // once the client reads, every response arrives, in order
  greedy.socket.resume();
  await greedy.waitResponses(24);
  assert.deepEqual(
    greedy.responses.map((r) => r.correlationId),
    Array.from({ length: 24 }, (_, i) => i + 1),
  );
  for (const r of greedy.responses) assert.equal(readFetchResult(r.body)[0]!.records.length > 4_000_000, true);
  greedy.close();
  await admin.disconnect();
  await broker.close();
});

test('Fetch size: min(max_bytes, fetch.max.bytes) per response, partition_max_bytes per partition, only the first partition with data may exceed them by its first batch (Kafka ReplicaManager.readFromLog minOneMessage)', async () => {
  const broker = await start({ fetchMaxBytes: 1024 * 1024 });
  const admin = kafkaOf(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'capped', numPartitions: 2 }] });
  await admin.disconnect();
  const c = await RawConnection.open(broker.port);
  for (const partition of [0, 1]) {
    for (let i = 0; i < 30; i++) {
      const res = readProduceResult(await c.request(0, 3, produceBody('capped', buildBatch([{ value: Buffer.alloc(100 * 1024, i) }]), { partition })));
      assert.equal(res.error, 0);
    }
  }
  const batch = 100 * 1024 + 61 + 10; // one record's batch, give or take the record header
  // the client asks for 100 MiB: the broker's 1 MiB cap applies
  let res = readFetchResult(
    await c.request(
      1,
      4,
      fetchBody(
        'capped',
        [
          { partition: 0, offset: 0, maxBytes: 100 << 20 },
          { partition: 1, offset: 0, maxBytes: 100 << 20 },
        ],
        { maxBytes: 100 << 20 },
      ),
    ),
  );
  const total = res.reduce((n, p) => n + p.records.length, 0);
  assert.ok(total <= 1024 * 1024 && total > 1024 * 1024 - batch, `response of ${total} bytes under fetch.max.bytes`);
  // partition limits below one batch: the first partition still returns one batch, the second none
  res = readFetchResult(
    await c.request(
      1,
      4,
      fetchBody('capped', [
        { partition: 0, offset: 0, maxBytes: 10 },
        { partition: 1, offset: 0, maxBytes: 10 },
      ]),
    ),
  );
  assert.ok(res[0]!.records.length > 100 * 1024 && res[0]!.records.length < batch + 100, 'first partition: exactly its first batch');
  assert.equal(res[1]!.records.length, 0, 'later partition: held to its limit');
  // a generated range of limits: never above the limit but for the first batch of the first partition
  for (let i = 0; i < 60; i++) {
    const per = 1 + Math.floor((i * 7919) % (600 * 1024));
    const max = 1 + Math.floor((i * 104729) % (900 * 1024));
    res = readFetchResult(
      await c.request(
        1,
        4,
        fetchBody(
          'capped',
          [
            { partition: 0, offset: i % 30, maxBytes: per },
            { partition: 1, offset: 0, maxBytes: per },
          ],
          { maxBytes: max },
        ),
      ),
    );
    const [p0, p1] = [res[0]!.records.length, res[1]!.records.length];
    assert.ok(p0 > 0, 'the first partition always progresses');
    if (p0 > Math.min(per, max)) assert.ok(p0 < batch + 100, `only one batch may exceed the limits (${p0} > ${Math.min(per, max)})`);
    assert.ok(p1 <= Math.min(per, Math.max(0, max - p0)), `second partition ${p1} within ${per} / ${max - p0}`);
  }
  c.close();
  await broker.close();
});

test('Fetch min_bytes=0 answers at once even at the log end (Kafka ReplicaManager.fetchMessages: bytesReadable >= minBytes)', async () => {
  const broker = await start();
  const admin = kafkaOf(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'empty', numPartitions: 1 }] });
  await admin.disconnect();
  const c = await RawConnection.open(broker.port);
  const started = Date.now();
  const res = readFetchResult(await c.request(1, 4, fetchBody('empty', [{ partition: 0, offset: 0, maxBytes: 1024 }], { maxWaitMs: 60_000, minBytes: 0 })));
  // the test runner's 120 s timeout would be the failure otherwise; 30 s is the broker's cap on max_wait
  assert.ok(Date.now() - started < 25_000);
  assert.equal(res[0]!.error, 0);
  assert.equal(res[0]!.records.length, 0);
  c.close();
  await broker.close();
});

test('connections.max.idle.ms closes a silent connection and one stuck in a half-sent frame, not one with a request in flight', async () => {
  const broker = await start({ connectionsMaxIdleMs: 300 });
  const admin = kafkaOf(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'idle', numPartitions: 1 }] });
  await admin.disconnect();
  const silent = await RawConnection.open(broker.port);
  const half = await RawConnection.open(broker.port);
  half.socket.write(Buffer.from([0, 0, 0x10, 0, 0, 1, 0, 4])); // declares 4096 bytes, sends 4
  const polling = await RawConnection.open(broker.port);
  const waited = polling.request(1, 4, fetchBody('idle', [{ partition: 0, offset: 0, maxBytes: 1024 }], { maxWaitMs: 1500, minBytes: 1 }));
  await silent.waitClosed();
  await half.waitClosed();
  const res = readFetchResult(await waited);
  assert.equal(res[0]!.error, 0, 'the long poll (1.5 s > 0.3 s idle) was answered');
  assert.equal(polling.closed, false);
  await polling.waitClosed(); // and then, idle, it is closed too
  assert.equal(broker.stats().connections, 0);
  await broker.close();
});

test('a frame above socket.request.max.bytes closes its connection before anything is allocated; one at the limit is read', async () => {
  const broker = await start({ socketRequestMaxBytes: 2 * 1024 * 1024 });
  const over = await RawConnection.open(broker.port);
  const h = Buffer.alloc(4);
  h.writeInt32BE(2 * 1024 * 1024 + 1);
  over.socket.write(h);
  await over.waitClosed();
  assert.equal(broker.stats().reservedBytes, 0);
  // exactly at the limit: an ApiVersions request padded to 2 MiB is parsed (and answered)
  const at = await RawConnection.open(broker.port);
  const { frame } = await import('../testdata/wire.js');
  const f = frame(18, 0, 5, Buffer.alloc(2 * 1024 * 1024 - 18));
  assert.equal(f.length - 4, 2 * 1024 * 1024);
  at.socket.write(f);
  await at.waitResponses(1);
  assert.equal(at.responses[0]!.correlationId, 5);
  at.close();
  await broker.close();
});

test('with queued.max.request.bytes spent, connections wait for it and are all served (no deadlock, nothing lost)', async () => {
  const broker = await start({ queuedMaxRequestBytes: 600 * 1024, queuedMaxRequests: 2 });
  const admin = kafkaOf(broker).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'budget', numPartitions: 1 }] });
  await admin.disconnect();
  const conns = await Promise.all(Array.from({ length: 6 }, () => RawConnection.open(broker.port)));
  const results = await Promise.all(
    conns.map(async (c, i) => {
      const out: number[] = [];
      for (let j = 0; j < 3; j++)
        out.push(readProduceResult(await c.request(0, 3, produceBody('budget', buildBatch([{ value: Buffer.alloc(400 * 1024, i) }])))).error);
      return out;
    }),
  );
  assert.deepEqual(results.flat(), Array(18).fill(0));
  const st = broker.stats();
  assert.equal(st.reservedBytes, 0);
  assert.equal(st.waitingConnections, 0);
  for (const c of conns) c.close();
  const a2 = kafkaOf(broker).admin();
  await a2.connect();
  assert.equal((await a2.fetchTopicOffsets('budget'))[0]!.high, '18');
  await a2.disconnect();
  await broker.close();
});
