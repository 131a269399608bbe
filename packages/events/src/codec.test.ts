import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import {
  alertCodec,
  eventCodec,
  EVENT_KINDS,
  HEADER_FINGERPRINT,
  HEADER_VERSION,
  readSchemaFile,
  SCHEMAS_DIR,
  SchemaValidationError,
  UndecodableRecordError,
  type AuditEvent,
} from './index.js';

const examplesDir = path.join(SCHEMAS_DIR, 'examples');
const example = (name: string) => readSchemaFile(`examples/${name}.json`) as AuditEvent;
const plain = (v: unknown) => JSON.parse(JSON.stringify(v));

test('there is an example for every event kind', () => {
  const files = new Set(readdirSync(examplesDir));
  for (const kind of EVENT_KINDS) assert.ok(files.has(`${kind}.json`), `missing schemas/examples/${kind}.json`);
});

for (const kind of EVENT_KINDS) {
  test(`example ${kind} validates and round-trips through Avro unchanged`, () => {
    const ev = example(kind);
    assert.deepEqual(eventCodec.validate(ev), []);
    const { value, headers } = eventCodec.encode(ev);
    assert.deepEqual(headers, { [HEADER_VERSION]: '4', [HEADER_FINGERPRINT]: eventCodec.fingerprint }, 'the two headers every record carries');
    assert.deepStrictEqual(plain(eventCodec.decode(value, headers)), ev);
  });
}

test('records written with the older four headers still decode', () => {
  const ev = example('http.exchange');
  const { value, headers } = eventCodec.encode(ev);
  const old = { 'audit-schema': Buffer.from('io.jwtaudit.v1.AuditEvent'), ...headers, 'content-type': Buffer.from('avro/binary') };
  assert.deepStrictEqual(plain(eventCodec.decode(value, old)), ev);
});

test('the alert example round-trips unchanged', () => {
  const alert = readSchemaFile('examples/alert.json') as Parameters<typeof alertCodec.encode>[0];
  const { value, headers } = alertCodec.encode(alert);
  assert.deepStrictEqual(plain(alertCodec.decode(value, headers)), alert);
});

test('a record written with schema v1 is read by the current schema, new fields defaulted', () => {
  const v1 = avro.Type.forSchema(readSchemaFile('avro/history/audit-event.v1.avsc') as avro.Schema);
  const current = example('token.validated');
  const { masking: _m, enrichment: _e, ...rest } = current;
  const written = v1.toBuffer({ ...rest, schemaVersion: 1 });
  const headers = { [HEADER_FINGERPRINT]: Buffer.from(v1.fingerprint('sha256').toString('hex')), [HEADER_VERSION]: Buffer.from('1') };
  const read = plain(eventCodec.decode(written, headers));
  assert.equal(read.schemaVersion, 1, 'the writer version is kept');
  assert.equal(read.masking, null);
  assert.equal(read.enrichment, null);
  assert.deepStrictEqual({ ...read, schemaVersion: 2 }, { ...current, masking: null, enrichment: null });
});

test("a record written with schema v2 is read by the current schema (v3: the claims policy's and canonical form's rejection reasons)", () => {
  const v2 = avro.Type.forSchema(readSchemaFile('avro/history/audit-event.v2.avsc') as avro.Schema);
  const current = example('token.rejected');
  const written = v2.toBuffer(current);
  const headers = { [HEADER_FINGERPRINT]: Buffer.from(v2.fingerprint('sha256').toString('hex')), [HEADER_VERSION]: Buffer.from('2') };
  assert.deepStrictEqual(plain(eventCodec.decode(written, headers)), current);
  for (const reason of ['non_canonical', 'unknown_crit', 'iat_in_future', 'lifetime_too_long'] as const) {
    const e = { ...current, rejection: { reason, detail: 'x' } };
    const encoded = eventCodec.encode(e);
    assert.deepStrictEqual(plain(eventCodec.decode(encoded.value, encoded.headers)).rejection, { reason, detail: 'x' });
  }
});

test('a record written with schema v3 is read by the current schema (v4: approval.* kinds and the approval record, defaulted to null)', () => {
  const v3 = avro.Type.forSchema(readSchemaFile('avro/history/audit-event.v3.avsc') as avro.Schema);
  const current = example('token.rejected');
  const { approval: _a, ...rest } = current;
  const written = v3.toBuffer({ ...rest, schemaVersion: 3 });
  const headers = { [HEADER_FINGERPRINT]: Buffer.from(v3.fingerprint('sha256').toString('hex')), [HEADER_VERSION]: Buffer.from('3') };
  const read = plain(eventCodec.decode(written, headers));
  assert.equal(read.approval, null);
  assert.deepStrictEqual({ ...read, schemaVersion: current.schemaVersion }, current);
});

test('an approval.* event needs its approval record, with a SHA-256 fingerprint (never the request itself)', () => {
  const granted = example('approval.granted');
  assert.deepEqual(eventCodec.validate({ ...granted, approval: null }), [{ field: 'approval', message: 'required for approval.granted' }]);
  for (const fingerprint of ['', 'DELETE /api/admin/users/42', granted.approval!.fingerprint.toUpperCase(), `${granted.approval!.fingerprint}0`]) {
    assert.throws(
      () => eventCodec.encode({ ...granted, approval: { ...granted.approval!, fingerprint } }),
      (err: unknown) => err instanceof SchemaValidationError && err.fields.some((f) => f.field === 'approval.fingerprint'),
    );
  }
});

test('a wrong-typed field is rejected with a message naming the field', () => {
  const ev = { ...example('http.exchange'), occurredAt: '2026-11-20T09:15:00Z' } as unknown as AuditEvent;
  assert.throws(
    () => eventCodec.encode(ev),
    (err: unknown) => {
      assert.ok(err instanceof SchemaValidationError);
      assert.equal(err.code, 'AUDIT_ERR_SCHEMA_INVALID');
      assert.deepEqual(
        err.fields.map((f) => f.field),
        ['occurredAt'],
      );
      assert.match(err.message, /occurredAt: expected long/);
      return true;
    },
  );
});

test('a missing required nested field is rejected naming its path', () => {
  const ev = example('token.rejected');
  const broken = { ...ev, http: { ...ev.http!, request: { ...ev.http!.request, method: undefined } } } as unknown as AuditEvent;
  const errors = eventCodec.validate(broken);
  assert.deepEqual(
    errors.map((e) => e.field),
    ['http.request.method'],
  );
  assert.match(errors[0]!.message, /missing/);
});

test('semantic checks: unknown kind, rejected without reason, raw token in fingerprint', () => {
  const ev = example('token.rejected');
  const fields = (e: unknown) => eventCodec.validate(e).map((x) => x.field);
  assert.deepEqual(fields({ ...ev, kind: 'token.stolen' }), ['kind']);
  assert.deepEqual(fields({ ...ev, rejection: null }), ['rejection']);
  assert.deepEqual(fields({ ...ev, token: { ...ev.token!, fingerprint: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln' } }), ['token.fingerprint']);
  assert.deepEqual(fields({ ...ev, id: 'not-a-uuid' }), ['id']);
});

test('bytes from an unknown writer schema or garbage are refused as undecodable', () => {
  const { value } = eventCodec.encode(example('token.issued'));
  assert.throws(() => eventCodec.decode(value, { [HEADER_FINGERPRINT]: 'f'.repeat(64) }), UndecodableRecordError);
  assert.throws(() => eventCodec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), UndecodableRecordError);
  assert.throws(() => eventCodec.decode(value.subarray(0, value.length - 7)), UndecodableRecordError);
});

test('encoding reuses no output memory and handles records of any size byte-for-byte like avsc', () => {
  const ev = example('http.exchange');
  const withBody = (n: number): AuditEvent => ({
    ...ev,
    http: { ...ev.http!, request: { ...ev.http!.request, body: { ...ev.http!.request.body!, content: 'x'.repeat(n), size: n } } },
  });
  const small = eventCodec.encode(ev).value;
  const copy = Buffer.from(small);
  // bigger than the first scratch buffer, then bigger than any kept scratch buffer, then small again
  for (const n of [40_000, 2_000_000, 10]) {
    const e = withBody(n);
    const { value } = eventCodec.encode(e);
    assert.ok(value.equals(eventCodec.type.toBuffer(e)), `body of ${n}: the same bytes as toBuffer`);
    assert.equal((eventCodec.decode(value) as AuditEvent).http!.request.body!.content!.length, n);
  }
  assert.ok(small.equals(copy), 'an earlier result is not overwritten by later encodes');
  // a value that does not fit still names the field after a bigger one grew the buffer
  assert.throws(() => eventCodec.encode({ ...withBody(50_000), occurredAt: 'x' } as unknown as AuditEvent), /occurredAt/);
});
