/**
 * The canary corpus (72 kinds) in every place an event carries free text or structured text,
 * masked, then the output scanned for every secret in plain, JSON-escaped, percent-encoded and
 * base64 form, and by the maintained rule set of secretlint (the oracle): it must find nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
import { eventCodec, type AuditEvent } from '@jwt-audit/events';
import { CANARY_CORPUS, canaryEvent, type CanaryKind } from './canary.js';
import { createMasker, DEFAULT_POLICY } from './index.js';

const masker = createMasker(DEFAULT_POLICY, { id: 'k1', secret: 'corpus-test-key-0123' });

const body = (contentType: string, content: string) => ({ contentType, size: Buffer.byteLength(content), truncated: false, sha256: null, content });

/** Where a value is planted: each returns the event carrying it. */
export const PLACEMENTS: Record<string, (e: AuditEvent, v: string) => void> = {
  'request header': (e, v) => void (e.http!.request.headers['x-debug'] = v),
  'query parameter': (e, v) => void (e.http!.request.query = `page=2&q=${encodeURIComponent(v)}`),
  'nested JSON': (e, v) => void (e.http!.request.body = body('application/json', JSON.stringify({ order: { items: [{ note: v }] } }))),
  'JSON cut by the cap': (e, v) =>
    void (e.http!.request.body = { ...body('application/json', JSON.stringify({ a: [{ b: { note: `${v} and more` } }] }).slice(0, -8)), truncated: true }),
  'form body': (e, v) => void (e.http!.request.body = body('application/x-www-form-urlencoded', `user=bob&comment=${encodeURIComponent(v)}`)),
  multipart: (e, v) =>
    void (e.http!.request.body = body(
      'multipart/form-data; boundary=zz',
      `preamble\r\n--zz\r\nContent-Disposition: form-data; name="comment"\r\n\r\n${v}\r\n--zz--\r\n`,
    )),
  'text body': (e, v) => void (e.http!.request.body = body('text/plain; charset=utf-8', `log line: ${v} end`)),
  'response body': (e, v) => void (e.http!.response!.body = body('application/json', JSON.stringify({ result: v }))),
  'response header': (e, v) => void (e.http!.response!.headers['x-upstream-debug'] = v),
  path: (e, v) => void (e.http!.request.path = `/files/${encodeURIComponent(v)}`),
  'attribute value': (e, v) => void (e.attributes.note = v),
  'rejection detail': (e, v) => void (e.rejection = { reason: 'malformed', detail: v }),
  'session reason': (e, v) => void (e.session = { id: 'sess-1', reason: v }),
  'user agent': (e, v) => void (e.network = { ...e.network!, userAgent: `curl/8 (${v})` }),
};

/** Every form a secret could be stored in. */
export const forms = (s: string): Record<string, string> => ({
  plain: s,
  'JSON-escaped': JSON.stringify(s).slice(1, -1),
  'percent-encoded': encodeURIComponent(s),
  base64: Buffer.from(s).toString('base64'),
});

const stored = (e: AuditEvent) => `${JSON.stringify(e)}\n${eventCodec.encode(e).value.toString('latin1')}`;

const lint = async (content: string) =>
  (
    await lintSource({
      source: { filePath: '/stored.txt', content, ext: '.txt', contentType: 'text' },
      options: { config: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: recommended }] }, maskSecrets: true },
    })
  ).messages;

test(`corpus: ${CANARY_CORPUS.length} kinds x ${Object.keys(PLACEMENTS).length} placements, masked output scanned in 4 forms: nothing left`, () => {
  assert.ok(CANARY_CORPUS.length >= 60);
  const hits: string[] = [];
  for (const c of CANARY_CORPUS) {
    for (const [placement, plant] of Object.entries(PLACEMENTS)) {
      const e = canaryEvent();
      plant(e, c.plant);
      const out = stored(masker.mask(e));
      for (const secret of c.secrets)
        for (const [form, f] of Object.entries(forms(secret))) if (out.includes(f)) hits.push(`${c.kind} in ${placement}, found ${form}`);
    }
  }
  assert.deepEqual(hits, []);
});

test('corpus: secretlint (recommended preset 13.1.0) as the oracle: what it finds in the plants, it never finds in masked output', async () => {
  const known: CanaryKind[] = [];
  for (const c of CANARY_CORPUS) if ((await lint(`value: ${c.plant}\n`)).length > 0) known.push(c);
  // the oracle must recognise a good part of the corpus for this to test anything
  assert.ok(known.length >= 25, `secretlint recognises ${known.length} kinds: ${known.map((c) => c.kind).join(', ')}`);
  const outputs: string[] = [];
  for (const c of CANARY_CORPUS) {
    for (const plant of Object.values(PLACEMENTS)) {
      const e = canaryEvent();
      plant(e, c.plant);
      outputs.push(JSON.stringify(masker.mask(e), null, 1));
    }
  }
  const found = await lint(outputs.join('\n'));
  assert.deepEqual(
    found.map((m) => `${m.ruleId}: ${m.message}`),
    [],
  );
});
