/**
 * The log keeps every _source, and the engine reads it back by byte position (store.ts): a
 * position off by one byte would serve a neighbour's bytes or broken JSON. Generated writes
 * (ids and sources with multi-byte characters, quotes, backslashes, line separators, the text
 * `"src":` itself; raw texts with their own spacing) are replaced, deleted, flushed, compacted
 * and replayed at random points, and every read is checked against a model, as is the order of the
 * live documents (the order of their last writes: a compaction and a restart keep the `_doc` order).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Store, type LiveIndex } from './store.js';
import { rng } from '@jwt-audit/runtime/testing/prng';

const PIECES = ['a', 'é', '日本', '😀', '"', '\\', '\u2028', '\n', '"src":', '}', '{', ' ', 'x'.repeat(40), '\u0000', 'ß'];

function text(r: ReturnType<typeof rng>, max = 6): string {
  return Array.from({ length: r.int(max) }, () => r.pick(PIECES)).join('');
}

function genSource(r: ReturnType<typeof rng>): Record<string, unknown> {
  const src: Record<string, unknown> = { msg: text(r), n: r.int(1000) - 500 };
  if (r.int(2)) src.nested = { deep: [text(r), r.int(3) === 0 ? null : text(r, 3)], ok: r.int(2) === 0 };
  if (r.int(3) === 0) src[text(r, 3) || 'k'] = text(r, 20);
  return src;
}

/** A document's JSON as a client might send it: compact, or with its own spacing. */
function rawOf(r: ReturnType<typeof rng>, src: Record<string, unknown>): string {
  return r.int(2) === 0 ? JSON.stringify(src) : JSON.stringify(src, null, 1).replace(/\n/g, ' ');
}

function write(store: Store, li: LiveIndex, id: string, src: Record<string, unknown>, raw: string): void {
  const seq = li.seqNo + 1;
  li.engine.index(id, src, { seqNo: seq, version: 1 }, raw);
  li.seqNo = seq;
  store.record(li, { o: 'i', id, s: seq, v: 1, src: raw, doc: li.engine.numOf(id)! });
}

/** The model's order is the order of last writes (a write moves its id to the end). */
function check(li: LiveIndex, model: Map<string, Record<string, unknown>>, where: string): void {
  assert.equal(li.engine.size, model.size, where);
  assert.deepEqual([...li.engine.ids()], [...model.keys()], `${where}: doc order`);
  for (const [id, src] of model) assert.deepEqual(li.engine.get(id)?.source, src, `${where}: ${JSON.stringify(id)}`);
}

test('sources read back from the log by position survive flushes, replaces, deletes, compaction, restarts and a torn tail', () => {
  for (const seed of [11, 12, 13]) {
    const dir = fs.mkdtempSync(path.join(tmpdir(), 'esearch-store-'));
    try {
      const r = rng(seed);
      let store = new Store(dir);
      let li = store.createIndex('i', {}, { dynamic: 'false' }, {});
      const model = new Map<string, Record<string, unknown>>();
      const ids = Array.from({ length: 40 }, (_, i) => `${i}${text(r, 3)}`);
      for (let step = 0; step < 1500; step++) {
        const id = r.pick(ids);
        const roll = r.int(100);
        if (roll < 70) {
          const src = genSource(r);
          write(store, li, id, src, rawOf(r, src));
          model.delete(id);
          model.set(id, src);
        } else if (roll < 85) {
          if (li.engine.delete(id)) store.record(li, { o: 'd', id, s: ++li.seqNo });
          model.delete(id);
        } else if (roll < 95) {
          store.flush();
        } else if (roll < 98) {
          store.compact(0);
          check(li, model, `seed ${seed} step ${step} after compaction`);
        } else {
          store.close();
          store = new Store(dir);
          li = store.live.get('i')!;
          check(li, model, `seed ${seed} step ${step} after restart`);
        }
        if (step % 97 === 0) check(li, model, `seed ${seed} step ${step}`);
      }
      store.close();
      // a crash mid-write leaves half a line: it is cut off and every whole line stays readable
      const log = path.join(dir, 'indices', `${store.meta.indices.i!.uuid}.log`);
      fs.appendFileSync(log, '{"o":"i","id":"torn","s":99999,"v":1,"src":{"msg":"é');
      store = new Store(dir);
      li = store.live.get('i')!;
      check(li, model, `seed ${seed} after a torn tail`);
      write(store, li, 'after', { msg: 'ü' }, '{"msg":"ü"}');
      model.set('after', { msg: 'ü' });
      store.close();
      store = new Store(dir);
      check(store.live.get('i')!, model, `seed ${seed} written after the cut`);
      store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
