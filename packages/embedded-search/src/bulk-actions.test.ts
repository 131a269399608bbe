/**
 * The bulk handler reads the action lines clients write without JSON.parse (server.ts ACTION_LINE).
 * Generated action lines, in the clients' form and around it (key orders, a key alone, spaces,
 * escapes, quotes, control characters, non-ASCII, empty ids, unknown keys), must be read exactly
 * as JSON.parse reads them: each item names the index and id JSON.parse gives, and each document
 * is found again under that id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startSearchNode, type SearchNode } from './index.js';
import { rng } from '@jwt-audit/runtime/testing/prng';

let node: SearchNode;
let es: Client;
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'esearch-bulk-'));
  node = await startSearchNode({ dir, port: 0 });
  es = new Client({ node: node.url });
});

after(async () => {
  await es.close();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

const ID_PARTS = ['a', 'ev-1', '"', '\\', '\u0001', '\n', '/', 'ü', '😀', ' ', '\t', '{}', '":"', '_id', ''];

test('generated action lines are read as JSON.parse reads them', async () => {
  const r = rng(21);
  const lines: string[] = [];
  const expected: { op: string; index: string; id: string | undefined }[] = [];
  const used = new Set<string>();
  for (let i = 0; i < 400; i++) {
    let id: string | undefined = Array.from({ length: r.int(4) }, () => r.pick(ID_PARTS)).join('') + `#${i}`;
    if (r.int(10) === 0) id = undefined;
    const op = r.pick(['create', 'index', 'create', 'delete']);
    const index = r.pick(['bulk-a', 'bulk-b', undefined]);
    const meta: Record<string, unknown> = {};
    const order = r.int(3);
    if (order === 0) Object.assign(meta, index ? { _index: index } : {}, id !== undefined ? { _id: id } : {});
    else if (order === 1) Object.assign(meta, id !== undefined ? { _id: id } : {}, index ? { _index: index } : {});
    else Object.assign(meta, index ? { _index: index } : {}, id !== undefined ? { _id: id } : {}, { routing: 'x' });
    if (op === 'delete' && meta._id === undefined) meta._id = `gone-${i}`;
    let line = JSON.stringify({ [op]: meta });
    // spacing a client could use: the slow path must still read it
    if (r.int(6) === 0) line = JSON.stringify({ [op]: meta }, null, r.int(2) === 0 ? 0 : 1).replace(/\n/g, '');
    if (r.int(8) === 0) line = ` ${line.replace('":{', '": {')} `;
    lines.push(line);
    const parsed = JSON.parse(line) as Record<string, { _index?: string; _id?: string }>;
    const m = parsed[op]!;
    expected.push({ op, index: m._index ?? 'bulk-default', id: m._id });
    if (op !== 'delete') lines.push(JSON.stringify({ n: i }));
    if (op !== 'delete' && m._id !== undefined) used.add(m._id);
  }
  const res = await fetch(`${node.url}/bulk-default/_bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${lines.join('\n')}\n`,
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { items: Record<string, { _index: string; _id: string; status: number; error?: unknown }>[] };
  assert.equal(body.items.length, expected.length);
  const seen = new Set<string>();
  const written: { index: string; id: string }[] = [];
  body.items.forEach((item, i) => {
    const e = expected[i]!;
    assert.deepEqual(Object.keys(item), [e.op], `item ${i}`);
    const result = item[e.op]!;
    assert.equal(result._index, e.index, `item ${i}: ${lines[i]}`);
    if (e.id !== undefined) assert.equal(result._id, e.id, `item ${i}`);
    else assert.match(result._id, /^[A-Za-z0-9_-]{20}$/);
    if (e.op === 'delete') return;
    const key = `${e.index}\u0000${result._id}`;
    // a repeated create is a conflict, a repeated index an update, as in Elasticsearch
    if (seen.has(key)) assert.equal(result.status, e.op === 'create' ? 409 : 200, `item ${i}`);
    else assert.equal(result.status, 201, `item ${i}: ${JSON.stringify(result.error)}`);
    seen.add(key);
    written.push({ index: e.index, id: result._id });
  });
  assert.ok(used.size > 200, `${used.size} ids written`);
  const got = await es.mget({ docs: written.map((w) => ({ _index: w.index, _id: w.id })) });
  got.docs.forEach((d, i) => assert.ok('found' in d && d.found, `document ${written[i]!.id} not found`));
});

test('an action line the fast path would misread is refused or parsed as Elasticsearch reads it', async () => {
  const cases: [string, number][] = [
    ['{"create":{"_index":"bulk-c","_id":"x\\"y"}}', 201],
    ['{"create":{"_index":"bulk-c","_id":"tab\there"}}', 400],
    ['{"create":{"_index":"bulk-c","_id":"a"},"x":1}', 201],
    ['{"create":{"_index":"bulk-c","_id":"b"}', 400],
    ['{"create":{"_index":"bulk-c",,"_id":"c"}}', 400],
    ['{"upsert":{"_index":"bulk-c","_id":"d"}}', 400],
  ];
  for (const [line, status] of cases) {
    const res = await fetch(`${node.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${line}\n{"n":1}\n` });
    if (status === 400) {
      // a malformed action line fails the whole request, as in Elasticsearch
      assert.equal(res.status, 400, line);
      continue;
    }
    assert.equal(res.status, 200, line);
    const body = (await res.json()) as { items: Record<string, { _id: string; status: number }>[] };
    assert.equal(body.items[0]!.create!._id, (JSON.parse(line) as { create: { _id: string } }).create._id);
    assert.equal(body.items[0]!.create!.status, status);
  }
});
