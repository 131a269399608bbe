import type { Client } from '@elastic/elasticsearch';
import { alertsDataStream, alertToEcsDocument, eventsDataStream, sessionToEcsDocument, toEcsDocument, withIndexTimes } from '@jwt-audit/ecs';
import { alertCodec, eventCodec, EVENTS_ERRORS, sessionCodec, TOPICS } from '@jwt-audit/events';
import { KAFKA_ERRORS, type DeadLetterRequest, type InputRecord } from '@jwt-audit/kafka';
import { toAuditError, type Metrics } from '@jwt-audit/runtime';
import { INDEXER_ERRORS } from './errors.js';
import { classifyItem, fromEsError } from './retry.js';

export interface BulkOutcome {
  written: number;
  duplicates: number;
  deadLetters: DeadLetterRequest[];
}

/**
 * Documents per `_bulk` request. A consumed batch (~650-860 records per partition fetch in the
 * bench) is sent as several requests, each as soon as it is built, so that the search node indexes
 * one while the indexer builds the next: with one request per batch the two took turns (both had
 * work in 2-3 % of the indexing window, 16-17 % with 200; bench/profile-overlap.ts). That this is
 * faster needs a machine where each has a core (services/indexer/README.md, Benchmark).
 */
export const BULK_DOCUMENTS = 200;

/** One `_bulk` request: its ndjson body and, line pair by line pair, the record each document came from. */
export interface Bulk {
  body: string;
  origin: InputRecord[];
}

/**
 * The `_bulk` bodies of a batch, each yielded as soon as it holds `perBulk` documents (events and
 * alerts: `create` with `_id` = event / alert id, so a redelivered record can never be indexed
 * twice). Session summaries are one body at the end, one `index` op per session: a session's
 * revisions share a partition and arrive in order, so the last one in the batch replaces the older
 * ones' documents (one write per session; redeliveries end there too). Records that cannot be
 * decoded or mapped are pushed to `deadLetters`.
 *
 * The body is built as ndjson here rather than handed to the client as an `operations` array: the
 * client would JSON.stringify each op the same way, but only after the request started, so the
 * serialisation of one bulk would not overlap the node's indexing of the previous one. The strings
 * are exactly what the client's ndserialize makes of the same ops (bulk-body.test.ts).
 */
export function* bulkBodies(
  records: InputRecord[],
  namespace: string,
  now: string,
  deadLetters: DeadLetterRequest[],
  perBulk = BULK_DOCUMENTS,
): Generator<Bulk> {
  // the action line's constant part, once per batch (ids and names JSON-escaped as JSON.stringify does)
  const createEvent = `{"create":{"_index":${JSON.stringify(eventsDataStream(namespace))},"_id":`;
  const createAlert = `{"create":{"_index":${JSON.stringify(alertsDataStream(namespace))},"_id":`;
  const indexSession = `{"index":{"_index":${JSON.stringify(`audit-sessions-${namespace}`)},"_id":`;
  let lines: string[] = [];
  let origin: InputRecord[] = [];
  const sessionLines: string[] = [];
  const sessionOrigin: InputRecord[] = [];
  const sessionAt = new Map<string, number>(); // session id -> its op's position in sessionOrigin
  for (const r of records) {
    try {
      if (!r.value) throw KAFKA_ERRORS.AUDIT_ERR_EMPTY_RECORD.create();
      if (r.topic === TOPICS.sessions) {
        const s = sessionCodec.decode(r.value, r.headers);
        const doc = JSON.stringify(withIndexTimes(sessionToEcsDocument(s), now));
        const at = sessionAt.get(s.id);
        if (at !== undefined) {
          // a newer revision in the same batch replaces the older one's document: one write per session
          sessionLines[at * 2 + 1] = doc;
          sessionOrigin[at] = r;
          continue;
        }
        sessionAt.set(s.id, sessionOrigin.length);
        sessionLines.push(`${indexSession}${JSON.stringify(s.id)}}}`, doc);
        sessionOrigin.push(r);
        continue;
      }
      if (r.topic === TOPICS.alerts) {
        const a = alertCodec.decode(r.value, r.headers);
        const doc = JSON.stringify(withIndexTimes(alertToEcsDocument(a), now, namespace));
        lines.push(`${createAlert}${JSON.stringify(a.id)}}}`, doc);
      } else {
        const e = eventCodec.decode(r.value, r.headers);
        const doc = JSON.stringify(withIndexTimes(toEcsDocument(e), now, namespace));
        lines.push(`${createEvent}${JSON.stringify(e.id)}}}`, doc);
      }
      origin.push(r);
    } catch (err) {
      deadLetters.push({ record: r, error: toAuditError(err, EVENTS_ERRORS.AUDIT_ERR_UNDECODABLE) });
      continue;
    }
    if (origin.length >= perBulk) {
      yield { body: lines.join('\n'), origin };
      lines = [];
      origin = [];
    }
  }
  if (origin.length > 0) yield { body: lines.join('\n'), origin };
  if (sessionOrigin.length > 0) yield { body: sessionLines.join('\n'), origin: sessionOrigin };
}

interface BulkResult {
  written: number;
  duplicates: number;
  retry: number;
}

async function sendBulk(es: Client, bulk: Bulk, deadLetters: DeadLetterRequest[], metrics?: Metrics): Promise<BulkResult> {
  let response;
  const started = process.hrtime.bigint();
  try {
    // a string in `operations` is sent as it is (the client adds the final newline)
    response = await es.bulk({ operations: [bulk.body] });
  } catch (err) {
    throw fromEsError(err, `bulk of ${bulk.origin.length} documents`);
  }
  metrics?.histogram('audit_indexer_bulk_duration_seconds', 'Time of one _bulk request').observe(Number(process.hrtime.bigint() - started) / 1e9);
  const out: BulkResult = { written: 0, duplicates: 0, retry: 0 };
  response.items.forEach((item, i) => {
    const result = Object.values(item)[0]!;
    switch (classifyItem(result.status)) {
      case 'written':
        out.written++;
        break;
      case 'duplicate':
        out.duplicates++;
        break;
      case 'retry':
        out.retry++;
        break;
      case 'reject':
        deadLetters.push({
          record: bulk.origin[i]!,
          error: INDEXER_ERRORS.AUDIT_ERR_ES_MAPPING.create(result.error?.type, result.error?.reason),
        });
    }
  });
  return out;
}

/** Lets a request just started reach the socket before the next bulk is built (building is synchronous). */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One consumed batch -> `_bulk` requests of up to `perBulk` documents, each sent as soon as it is
 * built. Resolves only when every request answered and every record is durably written, already
 * present, or dead-lettered; throws a retriable error when any item of any request must be
 * retried (the runner retries the whole batch: the written items come back as 409), or the first
 * request failure once all requests have answered.
 */
export async function indexBatch(es: Client, records: InputRecord[], namespace: string, metrics?: Metrics, perBulk = BULK_DOCUMENTS): Promise<BulkOutcome> {
  const deadLetters: DeadLetterRequest[] = [];
  const sent: Promise<BulkResult>[] = [];
  let documents = 0;
  for (const bulk of bulkBodies(records, namespace, new Date().toISOString(), deadLetters, perBulk)) {
    documents += bulk.origin.length;
    const request = sendBulk(es, bulk, deadLetters, metrics);
    // handled at once: a request that fails while the next one is built is no unhandled rejection
    request.catch(() => undefined);
    sent.push(request);
    await yieldToIo();
  }
  // every request settles before the batch resolves or fails: nothing is left in flight behind a retry
  const results = await Promise.allSettled(sent);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  let written = 0;
  let duplicates = 0;
  let retry = 0;
  for (const r of results as PromiseFulfilledResult<BulkResult>[]) {
    written += r.value.written;
    duplicates += r.value.duplicates;
    retry += r.value.retry;
  }
  if (retry > 0) throw INDEXER_ERRORS.AUDIT_ERR_ES_UNAVAILABLE.create(`${retry} of ${documents} bulk items must be retried (429/5xx)`);
  return { written, duplicates, deadLetters };
}
