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
 * One consumed batch -> one `_bulk` of `create` ops with `_id` = event id, so a redelivered
 * record can never be indexed twice. Resolves when every record is durably written, already
 * present, or dead-lettered; throws a retriable error when any item must be retried.
 */
export async function indexBatch(es: Client, records: InputRecord[], namespace: string, metrics?: Metrics): Promise<BulkOutcome> {
  const deadLetters: DeadLetterRequest[] = [];
  const operations: object[] = [];
  const origin: InputRecord[] = [];
  const sessionOp = new Map<string, number>(); // session id -> its op's position in origin
  const now = new Date().toISOString();
  for (const r of records) {
    try {
      if (!r.value) throw KAFKA_ERRORS.AUDIT_ERR_EMPTY_RECORD.create();
      if (r.topic === TOPICS.sessions) {
        // one document per session, replaced by each newer revision: a session's revisions share a
        // partition and arrive in order, so the last write is the newest (redeliveries end there too)
        const s = sessionCodec.decode(r.value, r.headers);
        const doc = withIndexTimes(sessionToEcsDocument(s), now);
        const at = sessionOp.get(s.id);
        if (at !== undefined) {
          // a newer revision in the same batch replaces the older one's document: one write per session
          operations[at * 2 + 1] = doc;
          origin[at] = r;
          continue;
        }
        sessionOp.set(s.id, origin.length);
        operations.push({ index: { _index: `audit-sessions-${namespace}`, _id: s.id } }, doc);
      } else if (r.topic === TOPICS.alerts) {
        const a = alertCodec.decode(r.value, r.headers);
        const doc = withIndexTimes(alertToEcsDocument(a), now, namespace);
        operations.push({ create: { _index: alertsDataStream(namespace), _id: a.id } }, doc);
      } else {
        const e = eventCodec.decode(r.value, r.headers);
        const doc = withIndexTimes(toEcsDocument(e), now, namespace);
        operations.push({ create: { _index: eventsDataStream(namespace), _id: e.id } }, doc);
      }
      origin.push(r);
    } catch (err) {
      deadLetters.push({ record: r, error: toAuditError(err, EVENTS_ERRORS.AUDIT_ERR_UNDECODABLE) });
    }
  }
  if (origin.length === 0) return { written: 0, duplicates: 0, deadLetters };
  let response;
  const started = process.hrtime.bigint();
  try {
    response = await es.bulk({ operations });
  } catch (err) {
    throw fromEsError(err, `bulk of ${origin.length} documents`);
  }
  metrics?.histogram('audit_indexer_bulk_duration_seconds', 'Time of one _bulk request').observe(Number(process.hrtime.bigint() - started) / 1e9);
  let written = 0;
  let duplicates = 0;
  let retry = 0;
  response.items.forEach((item, i) => {
    const result = Object.values(item)[0]!;
    switch (classifyItem(result.status)) {
      case 'written':
        written++;
        break;
      case 'duplicate':
        duplicates++;
        break;
      case 'retry':
        retry++;
        break;
      case 'reject':
        deadLetters.push({
          record: origin[i]!,
          error: INDEXER_ERRORS.AUDIT_ERR_ES_MAPPING.create(result.error?.type, result.error?.reason),
        });
    }
  });
  if (retry > 0) throw INDEXER_ERRORS.AUDIT_ERR_ES_UNAVAILABLE.create(`${retry} of ${origin.length} bulk items must be retried (429/5xx)`);
  return { written, duplicates, deadLetters };
}
