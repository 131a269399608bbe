import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { eventCodec, newId, partitionKey, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import { AuditError, createLogger, siblingModule } from '@jwt-audit/runtime';
import type { InputRecord } from './record.js';
import { TransformPool, type PoolResult } from './transform-pool.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const MODULE = siblingModule(new URL('./testdata/x', import.meta.url).href, 'tagging-transform').href;
const example = readSchemaFile('examples/http.exchange.json') as AuditEvent;

function record(i: number, test = 'ok'): InputRecord {
  const e: AuditEvent = { ...example, id: newId(), actor: { ...example.actor, sub: `s${i % 3}` }, attributes: { n: String(i), test } };
  const { value, headers } = eventCodec.encode(e);
  return {
    topic: 'audit.raw.v1',
    partition: i % 3,
    offset: String(100 + i),
    key: Buffer.from(partitionKey(e)),
    value,
    headers,
    timestamp: 1_700_000_000_000 + i,
  };
}

const ok = (r: PoolResult) => {
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r;
};

test('transform threads: every record decoded, transformed and encoded in order, notes and keys back, failures by record', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pool-'));
  const pool = new TransformPool({ module: MODULE, data: { tag: 'seen-by-thread', dir }, threads: 2 }, logger);
  try {
    await pool.start();
    const records = Array.from({ length: 300 }, (_, i) => record(i, i === 17 ? 'poison' : 'ok'));
    records[42] = { ...records[42]!, value: Buffer.from('not avro at all') };
    records[43] = { ...records[43]!, value: null };
    // two batches at once: both threads work, each batch's results stay in its own order
    const [a, b] = await Promise.all([pool.run(records.slice(0, 150)), pool.run(records.slice(150))]);
    const results = [...a, ...b];
    assert.equal(results.length, 300);
    results.forEach((r, i) => {
      if (i === 17) {
        assert.ok(
          !r.ok && r.error instanceof AuditError && r.error.code === 'AUDIT_ERR_TEST_POISON' && !r.error.retriable,
          'a refused event is a non-retriable error for that record only',
        );
        return;
      }
      if (i === 42 || i === 43) {
        assert.ok(!r.ok && !r.error.retriable, `record ${i} (undecodable / empty) fails alone: ${r.ok ? '' : r.error.message}`);
        return;
      }
      const out = ok(r) as Extract<PoolResult, { ok: true }>;
      const e = eventCodec.decode(out.value, out.headers);
      assert.equal(e.attributes.n, String(i), 'results come back in record order');
      assert.equal(e.attributes.tag, 'seen-by-thread');
      assert.equal(out.key, `sub:s${i % 3}`);
      assert.equal(out.notes, String(i));
    });
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transform threads: a thread that dies fails its batch as retriable and is replaced; a module that cannot start fails start()', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pool-'));
  const pool = new TransformPool({ module: MODULE, data: { tag: 't', dir }, threads: 1 }, logger);
  try {
    await pool.start();
    const batch = [record(1), record(2, 'crash'), record(3)];
    await assert.rejects(pool.run(batch), (err: unknown) => err instanceof AuditError && err.retriable && err.code === 'AUDIT_ERR_TRANSFORM_THREAD');
    // the runner retries the same batch: a new thread takes it (the marker makes the crash happen once)
    const again = await pool.run(batch);
    assert.deepEqual(
      again.map((r) => r.ok),
      [true, true, true],
    );
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const broken = new TransformPool({ module: MODULE, data: { tag: 't', dir, failToStart: true }, threads: 1 }, logger);
  try {
    await assert.rejects(broken.start(), /transform thread could not start: no policy file at \/nonexistent\.json/);
  } finally {
    await broken.close();
  }
});
