import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createDependencyLog, createLogThrottle, dependencyLog, reasonOf } from './dependency-log.js';
import { createLogger } from './logger.js';

function capture(level = 'info') {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, logger: createLogger({ name: 'svc', level, destination: stream }) };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

test('an outage: one down line, a count line at most once per interval (doubling), one back line', () => {
  const { lines, logger } = capture();
  const c = clock();
  const dep = createDependencyLog(logger, 'kafka', { intervalMs: 10_000, maxIntervalMs: 40_000, now: c.now });
  assert.equal(dep.down, false);
  dep.ok(); // up and ok: nothing
  assert.equal(lines.length, 0);
  // a failure every 100 ms for 200 s
  for (let i = 0; i < 2_000; i++) {
    dep.failed(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    c.advance(100);
  }
  assert.equal(dep.down, true);
  dep.ok();
  dep.ok();
  assert.equal(dep.down, false);
  assert.deepEqual(
    lines.map((l) => l.msg.replace(/: \d+ failed.*/, '')),
    [
      'kafka unreachable: Connection error: connect ECONNREFUSED 127.0.0.1:9092',
      'kafka still unreachable after 10 s', // interval 10 s
      'kafka still unreachable after 30 s', // 20 s
      'kafka still unreachable after 70 s', // 40 s (the maximum)
      'kafka still unreachable after 110 s',
      'kafka still unreachable after 150 s',
      'kafka still unreachable after 190 s',
      'kafka reachable again after 200 s (2000 failed attempts)',
    ],
  );
  assert.deepEqual(
    lines.map((l) => l.level),
    [40, 40, 40, 40, 40, 40, 40, 30],
  );
  // the counts add up: the down line's attempt, then each count line's since the previous line
  const counted = 1 + lines.slice(1, -1).reduce((n, l) => n + (l.failures as number), 0);
  assert.ok(counted <= 2_000 && counted > 1_900, `counted ${counted}`);
  assert.equal(lines[1]!.failures, 100);
  assert.equal(lines[1]!.downMs, 10_000);
  assert.equal(lines.at(-1)!.failures, 2_000);
  assert.equal(lines.at(-1)!.downMs, 200_000);
  assert.ok(
    lines.every((l) => l.dependency === undefined),
    'createDependencyLog writes with the logger it is given',
  );
  assert.match(lines[1]!.msg, /^kafka still unreachable after 10 s: 100 failed attempts since the last line; last: Connection error/);
});

test('a second outage starts over: its own down line and the first interval again', () => {
  const { lines, logger } = capture();
  const c = clock();
  const dep = createDependencyLog(logger, 'elasticsearch', { intervalMs: 1_000, now: c.now });
  for (const outage of [0, 1]) {
    for (let i = 0; i < 50; i++) {
      dep.failed(`refused ${outage}`);
      c.advance(100);
    }
    dep.ok();
    c.advance(60_000);
  }
  assert.deepEqual(
    lines.map((l) => l.msg.replace(/: \d+ failed.*/, '')),
    [
      'elasticsearch unreachable: refused 0',
      'elasticsearch still unreachable after 1 s',
      'elasticsearch still unreachable after 3 s',
      'elasticsearch reachable again after 5 s (50 failed attempts)',
      'elasticsearch unreachable: refused 1',
      'elasticsearch still unreachable after 1 s',
      'elasticsearch still unreachable after 3 s',
      'elasticsearch reachable again after 5 s (50 failed attempts)',
    ],
  );
});

test('quiet: counted, written at debug only', () => {
  const info = capture('info');
  const debug = capture('debug');
  for (const { logger } of [info, debug]) {
    const dep = createDependencyLog(logger, 'kafka', { quiet: true, intervalMs: 0 });
    dep.failed('down');
    dep.failed('down');
    assert.equal(dep.down, true);
    dep.ok();
  }
  assert.equal(info.lines.length, 0);
  assert.ok(debug.lines.length >= 3 && debug.lines.every((l) => l.level === 20));
});

test('one state per dependency and destination: children of one root share it, another root has its own', () => {
  const a = capture();
  const b = capture();
  const one = dependencyLog(a.logger.child({ component: 'consumer' }), 'kafka');
  assert.equal(dependencyLog(a.logger.child({ component: 'kafkajs' }).child({ x: 1 }), 'kafka'), one);
  assert.notEqual(dependencyLog(a.logger, 'elasticsearch'), one);
  assert.notEqual(dependencyLog(b.logger, 'kafka'), one);
  one.failed('connect ECONNREFUSED');
  dependencyLog(a.logger, 'kafka').failed('connect ECONNREFUSED');
  assert.equal(a.lines.length, 1);
  assert.equal(a.lines[0]!.dependency, 'kafka');
  assert.equal(a.lines[0]!.component, 'consumer', "written by the first user's logger");
  assert.equal(b.lines.length, 0);
  assert.equal(dependencyLog(b.logger, 'kafka').down, false);
});

test('reasons: one bounded line, never a stack, whatever was thrown', () => {
  const e = new Error('first line\n    at somewhere (file.js:1:1)');
  assert.equal(reasonOf(e), 'first line');
  assert.equal(reasonOf({ message: 'an object' }), 'an object');
  assert.equal(reasonOf(42), '42');
  assert.equal(reasonOf(undefined), 'undefined');
  assert.equal(reasonOf(null), 'null');
  assert.equal(reasonOf('x'.repeat(1_000)).length, 303);
  // generated: any text, any line breaks: one line, at most 303 characters
  for (let i = 0; i < 500; i++) {
    const parts = Array.from({ length: 1 + (i % 7) }, (_, j) => String.fromCharCode(32 + ((i * 31 + j * 17) % 90)).repeat((i * 13 + j) % 120));
    const r = reasonOf(new Error(parts.join(i % 2 ? '\n' : '\r\n')));
    assert.ok(!r.includes('\n') && r.length <= 303, JSON.stringify(r));
  }
  const { lines, logger } = capture();
  createDependencyLog(logger, 'kafka').failed(e);
  assert.ok(!JSON.stringify(lines).includes('somewhere'));
});

test('throttle: one line per key per interval, then the count of lines dropped', () => {
  const c = clock();
  const th = createLogThrottle(1_000, { now: c.now, maxKeys: 3 });
  assert.equal(th.admit('a'), 0);
  assert.equal(th.admit('a'), undefined);
  assert.equal(th.admit('b'), 0);
  c.advance(500);
  assert.equal(th.admit('a'), undefined);
  c.advance(500);
  assert.equal(th.admit('a'), 2);
  assert.equal(th.admit('a'), undefined);
  // bounded: new keys past maxKeys start over instead of growing
  for (let i = 0; i < 100; i++) assert.equal(th.admit(`k${i}`), 0);
});

test('logged errors carry no stack at info; at debug they do', () => {
  const info = capture('info');
  const debug = capture('debug');
  for (const { logger } of [info, debug]) logger.child({ component: 'x' }).error({ err: new Error('boom') }, 'failed');
  assert.equal((info.lines[0]!.err as { message: string }).message, 'boom');
  assert.equal((info.lines[0]!.err as { stack?: string }).stack, undefined);
  assert.match((debug.lines[0]!.err as { stack: string }).stack, /Error: boom\n\s+at /);
});
