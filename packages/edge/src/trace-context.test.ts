import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hopTrace, parseTraceparent } from './trace-context.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const fixed = () => Buffer.from('000102030405060708090a0b0c0d0e0f1011121314151617', 'hex');

describe('trace context (W3C traceparent)', () => {
  it('parses a valid version-00 header and a future version with extra fields', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { version: '00', traceId: TRACE, parentId: SPAN, flags: '01' });
    assert.deepEqual(parseTraceparent(` 00-${TRACE}-${SPAN}-00 `), { version: '00', traceId: TRACE, parentId: SPAN, flags: '00' }, 'surrounding whitespace');
    assert.equal(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-comes-next`)?.version, 'cc');
  });

  it('refuses every malformed header: version ff, zero ids, upper case, wrong lengths, extra fields on 00, arrays', () => {
    const bad = [
      `ff-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}1-01`,
      `00-${TRACE}-${SPAN}-1`,
      `0-${TRACE}-${SPAN}-01`,
      `00_${TRACE}_${SPAN}_01`,
      '',
      'garbage',
    ];
    for (const b of bad) assert.equal(parseTraceparent(b), null, b);
    assert.equal(parseTraceparent([`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`]), null, 'a repeated header is not believed');
    assert.equal(parseTraceparent(undefined), null);
    // generated: one character of a valid header replaced by a non-hex character is never accepted
    const rnd = prng(15);
    const good = `00-${TRACE}-${SPAN}-01`;
    for (let n = 0; n < 300; n++) {
      const at = Math.floor(rnd() * good.length);
      if (good[at] === '-') continue;
      const v = good.slice(0, at) + 'gxZ-_ '[Math.floor(rnd() * 6)] + good.slice(at + 1);
      assert.equal(parseTraceparent(v), null, v);
    }
  });

  it('keeps an incoming trace id and flags, makes its own span, and passes tracestate (bounded) only with a valid parent', () => {
    const h = hopTrace(`00-${TRACE}-${SPAN}-00`, 'vendor=x', fixed);
    assert.equal(h.trace.traceId, TRACE);
    assert.equal(h.trace.spanId, '1011121314151617');
    assert.equal(h.outgoing.traceparent, `00-${TRACE}-1011121314151617-00`);
    assert.equal(h.outgoing.tracestate, 'vendor=x');
    assert.equal(h.trace.traceparent, h.outgoing.traceparent, 'the event records what the upstream was sent');
    assert.equal(hopTrace(`00-${TRACE}-${SPAN}-01`, 'x'.repeat(513), fixed).outgoing.tracestate, undefined, 'tracestate over 512 characters dropped');
    assert.equal(hopTrace('junk', 'vendor=x', fixed).outgoing.tracestate, undefined, 'no tracestate without a valid traceparent');
  });

  it('starts a trace without a valid incoming header, sampled', () => {
    const h = hopTrace(undefined, undefined, fixed);
    assert.equal(h.trace.traceId, '000102030405060708090a0b0c0d0e0f');
    assert.equal(h.outgoing.traceparent, '00-000102030405060708090a0b0c0d0e0f-1011121314151617-01');
    assert.equal(h.trace.tracestate, null);
    const a = hopTrace(undefined, undefined);
    const b = hopTrace(undefined, undefined);
    assert.notEqual(a.trace.traceId, b.trace.traceId, 'random ids by default');
    assert.ok(parseTraceparent(a.outgoing.traceparent), 'what it generates is valid');
  });
});
