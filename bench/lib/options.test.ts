// The benchmark's options are an input boundary: every malformed value is refused naming its
// option and what it expects; every valid one is taken as given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, parseOptions } from './options.js';

const NUMERIC: Array<[string, keyof typeof DEFAULTS, number, number]> = [
  ['duration', 'duration', 1, 3600],
  ['probe-every', 'probeEvery', 1, 100_000],
  ['poll-ms', 'pollMs', 10, 10_000],
  ['drain', 'drainSeconds', 1, 3600],
];

/** Values no whole-number option may take: generated around every shape a typo or an attacker tries. */
function badNumbers(min: number, max: number): string[] {
  const out = [
    '',
    ' ',
    '-1',
    '+5',
    '1.5',
    '1e3',
    '0x10',
    'NaN',
    'Infinity',
    '-0',
    '1,000',
    '1_000',
    '٣',
    '１０',
    '10s',
    's10',
    '\u0000',
    '9'.repeat(400),
    String(max + 1),
    String(Number.MAX_SAFE_INTEGER + 2),
  ];
  if (min > 0) out.push(String(min - 1));
  for (let i = 0; i < 40; i++) {
    const n = Math.floor(Math.random() * max) + min;
    out.push(`${n}x`, `${n}.0`, `-${n}`, `${n} ${n}`, `${String.fromCharCode(33 + (i % 15))}${n}`);
  }
  return out;
}

test('every whole-number option refuses malformed and out-of-range values, naming the option and the range', () => {
  for (const [flag, , min, max] of NUMERIC) {
    for (const raw of badNumbers(min, max)) {
      assert.throws(
        () => parseOptions({ [flag]: raw }),
        (err: Error) => err.message.includes(`--${flag}: expected a whole number ${min}..${max}`) && err.message.includes(JSON.stringify(raw)),
        `--${flag} ${JSON.stringify(raw)}`,
      );
    }
  }
});

test('every whole-number option takes each value of its range as given (surrounding blanks aside)', () => {
  for (const [flag, key, min, max] of NUMERIC) {
    const values = [min, max, ...Array.from({ length: 50 }, () => min + Math.floor(Math.random() * (max - min + 1)))];
    for (const v of values) {
      assert.equal(parseOptions({ [flag]: String(v) })[key], v);
      assert.equal(parseOptions({ [flag]: ` ${v} ` })[key], v);
    }
  }
});

test('--rates takes comma-separated rates in order and refuses any list with a bad member', () => {
  for (let i = 0; i < 100; i++) {
    const rates = Array.from({ length: 1 + (i % 20) }, () => 1 + Math.floor(Math.random() * 100_000));
    assert.deepEqual(parseOptions({ rates: rates.join(',') }).rates, rates);
  }
  for (const bad of [
    '',
    ',',
    '1000,',
    ',1000',
    '1000,,3000',
    '1000;3000',
    '1000 3000',
    '0',
    '100001',
    '1000,-5',
    '1000,abc',
    '1e3',
    Array(21).fill('1').join(','),
  ]) {
    assert.throws(() => parseOptions({ rates: bad }), /--rates: /, JSON.stringify(bad));
  }
});

test('several wrong options are reported at once; no option means the defaults', () => {
  assert.throws(
    () => parseOptions({ duration: '0', rates: 'x', 'poll-ms': '5' }),
    (err: Error) => ['--duration', '--rates', '--poll-ms'].every((f) => err.message.includes(f)),
  );
  assert.deepEqual(parseOptions({}), DEFAULTS);
  assert.deepEqual(parseOptions({ json: true, keep: true }), { ...DEFAULTS, json: true, keep: true });
});
