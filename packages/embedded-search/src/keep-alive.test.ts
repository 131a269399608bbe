import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startSearchNode } from './index.js';

/** Sends one request on `socket` and resolves with the status line of its answer. */
function ask(socket: net.Socket, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer) => {
      got += c.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      if (end >= 0 && len && got.length >= end + 4 + Number(len[1])) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    };
    const onClose = () => reject(new Error(`the node closed the connection (got ${JSON.stringify(got.slice(0, 60))})`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`POST /_bulk HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

test("a pooled connection left idle longer than node's 5 s default is still served, as Elasticsearch keeps it (no ECONNRESET on a bulk after a pause)", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'search-keepalive-'));
  const node = await startSearchNode({ dir, port: 0 });
  const socket = net.connect(node.port, '127.0.0.1');
  try {
    await new Promise((r) => socket.once('connect', r));
    const doc = (i: number) => `{"index":{"_index":"ka","_id":"${i}"}}\n{"n":${i}}\n`;
    assert.match(await ask(socket, doc(1)), /^HTTP\/1\.1 200/);
    await new Promise((r) => setTimeout(r, 6_000));
    assert.match(await ask(socket, doc(2)), /^HTTP\/1\.1 200/, 'the same socket, after 6 s idle');
    const es = new Client({ node: node.url });
    assert.equal((await es.count({ index: 'ka' })).count, 2);
    await es.close();
  } finally {
    socket.destroy();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
