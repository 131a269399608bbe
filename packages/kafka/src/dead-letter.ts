import { deadLetterCodec, newId, TOPICS } from '@jwt-audit/events';
import type { AuditError } from '@jwt-audit/runtime';
import type { OutRecord } from './producer.js';
import type { InputRecord } from './record.js';

/** The audit.dlq.v1 record for an input that a stage could not process: reason, code, origin, bytes. */
export function deadLetterRecord(stage: string, record: InputRecord, error: AuditError, now = Date.now()): OutRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.headers)) if (v !== undefined) headers[k] = v.toString();
  const encoded = deadLetterCodec.encode({
    id: newId(),
    stage,
    code: error.code,
    reason: error.message.slice(0, 4096),
    originTopic: record.topic,
    originPartition: record.partition,
    originOffset: Number(record.offset),
    originKey: record.key,
    originHeaders: headers,
    payload: record.value,
    failedAt: now,
  });
  return { key: record.key, value: encoded.value, headers: encoded.headers, timestamp: now };
}

export const DLQ_TOPIC = TOPICS.dlq;
