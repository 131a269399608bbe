/**
 * What an old client (message formats v0/v1: Produce v0-2, Fetch v0-3) costs the broker, in
 * process, against the work every Produce v3+ does in the same run: validating one record batch
 * v2 of 1,000 records of 1 KiB (log-validator.ts decodes every record, as Kafka's LogValidator).
 *   produce: convertLegacyRecordSet on the same records as a message set v1 (uncompressed, gzip)
 *   fetch:   downConvertRecordSet of the stored batch v2 to magic 1 (uncompressed, gzip)
 *   npm run bench:legacy -w packages/embedded-kafka        (BENCH_ROUNDS=200 by default)
 * Prints a table (records/s and the ratio of time to the baseline's) and a JSON line.
 */
import { gzipSync } from 'node:zlib';
import { validateRecordSet } from '../src/storage/log-validator.js';
import { convertLegacyRecordSet, downConvertRecordSet } from '../src/storage/legacy-messages.js';
import { buildBatch, encodeRecords } from '../src/testdata/wire.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const RECORDS = 1_000;
const value = Buffer.alloc(1_024, 'a');
const records = Array.from({ length: RECORDS }, (_, i) => ({ key: Buffer.from(`key-${i}`), value }));
const rules = { maxMessageBytes: 64 << 20, compacted: false, logAppendTime: false };

const plainBatch = buildBatch(records);
const gzipBatch = buildBatch(records, { attributes: 1, body: gzipSync(encodeRecords(records)) });
const toV1 = (batch: Buffer) => {
  const r = downConvertRecordSet(batch, 1, 0);
  if (!r.ok) throw new Error('down-conversion failed');
  return r.records;
};
const plainV1 = toV1(plainBatch);
const gzipV1 = toV1(gzipBatch);

/** Runs every path in turns of 10 rounds, so load that comes and goes on a shared machine falls on all alike. */
function timeAll(paths: [string, () => unknown][]): { what: string; ms: number }[] {
  for (const [, run] of paths) for (let i = 0; i < 5; i++) run(); // warm up
  const ms = paths.map(() => 0);
  for (let turn = 0; turn < ROUNDS / 10; turn++) {
    paths.forEach(([, run], i) => {
      const start = process.hrtime.bigint();
      for (let k = 0; k < 10; k++) run();
      ms[i]! += Number(process.hrtime.bigint() - start) / 1e6;
    });
  }
  return paths.map(([what], i) => ({ what, ms: ms[i]! }));
}

const check = (v: ReturnType<typeof validateRecordSet>) => {
  if (!v.ok) throw new Error(v.message);
};
const rows = timeAll([
  ['baseline: validate a batch v2 (Produce v3+), uncompressed', () => check(validateRecordSet(3, Buffer.from(plainBatch), rules, Date.now()))],
  ['baseline: validate a batch v2 (Produce v3+), gzip', () => check(validateRecordSet(3, Buffer.from(gzipBatch), rules, Date.now()))],
  ['produce v0-2: convert a message set v1, uncompressed', () => check(convertLegacyRecordSet(plainV1, rules, Date.now()))],
  ['produce v0-2: convert a message set v1, gzip (recompressed)', () => check(convertLegacyRecordSet(gzipV1, rules, Date.now()))],
  ['fetch v2-3: down-convert to magic 1, uncompressed', () => toV1(plainBatch)],
  ['fetch v2-3: down-convert to magic 1, gzip (recompressed)', () => toV1(gzipBatch)],
]);
const base = [rows[0]!.ms, rows[1]!.ms];
const out = rows.map((r, i) => ({ ...r, recordsPerSec: Math.round((ROUNDS * RECORDS) / (r.ms / 1000)), ofBaseline: +(r.ms / base[i % 2]!).toFixed(2) }));
console.log(`| path (${RECORDS} records of 1 KiB, ${ROUNDS} rounds) | records/s | time vs the batch v2 validation of the same codec |`);
console.log('| --- | ---: | ---: |');
for (const r of out) console.log(`| ${r.what} | ${r.recordsPerSec.toLocaleString('en')} | ${r.ofBaseline.toFixed(2)}x |`);
console.log(JSON.stringify({ bench: 'legacy-formats', rounds: ROUNDS, records: RECORDS, results: out }));
