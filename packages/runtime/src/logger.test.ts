import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, stream };
}

test('logger writes JSON lines with the component name', () => {
  const { lines, stream } = capture();
  const log = createLogger({ name: 'masker', destination: stream });
  log.child({ component: 'consumer' }).info({ batch: 3 }, 'batch done');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.name, 'masker');
  assert.equal(lines[0]!.component, 'consumer');
  assert.equal(lines[0]!.msg, 'batch done');
  assert.equal(lines[0]!.batch, 3);
});

test('logger censors credentials passed by mistake', () => {
  const { lines, stream } = capture();
  const log = createLogger({ name: 'interceptor', destination: stream });
  log.info({ headers: { authorization: 'Bearer eyJhbGciOi.secret.sig', accept: 'text/html' }, password: 'hunter2' }, 'req');
  const text = JSON.stringify(lines[0]);
  assert.ok(!text.includes('eyJhbGciOi'), 'raw bearer token must not be logged');
  assert.ok(!text.includes('hunter2'), 'password must not be logged');
  assert.ok(text.includes('text/html'), 'harmless headers stay');
});
