import { alertCodec, deadLetterCodec, newId, TOPICS, type Alert } from '@jwt-audit/events';
import type { AuditError } from '@jwt-audit/runtime';
import type { OutRecord } from './producer.js';
import type { InputRecord } from './record.js';

/** The audit.dlq.v1 record for an input that a stage could not process: reason, code, origin, bytes. */
export function deadLetterRecord(stage: string, record: InputRecord, error: AuditError, now = Date.now(), id = newId()): OutRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.headers)) if (v !== undefined) headers[k] = v.toString();
  const encoded = deadLetterCodec.encode({
    id,
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

/** The alert rule a stage raises when its dead-letter rate passes its threshold. */
export const DEAD_LETTER_RATE_RULE = 'pipeline-dead-letter-rate';

/**
 * The audit.alerts.v1 record for a stage whose dead letters passed the threshold: any alerting
 * consumer subscribed to the topic (the webhook, `audit alerts tail`) sees the pipeline itself in
 * trouble, not only a gauge. Evidence: the dead letters' ids (audit.dlq.v1) of the batch that
 * raised it, for `audit dlq replay`.
 */
export function deadLetterAlertRecord(
  a: {
    stage: string;
    groupId: string;
    topic: string;
    partition: number;
    deadLettered: number;
    records: number;
    ratio: number;
    windowMs: number;
    evidence: string[];
  },
  now = Date.now(),
): OutRecord {
  const alert: Alert = {
    id: newId(),
    schemaVersion: 1,
    rule: DEAD_LETTER_RATE_RULE,
    severity: 'high',
    keys: { subject: null, jti: null, ip: null, clientId: null, familyId: null, sessionId: null },
    window: { sizeMs: a.windowMs, start: now - a.windowMs, end: now },
    count: a.deadLettered,
    suppressed: 0,
    firstSeen: now - a.windowMs,
    lastSeen: now,
    raisedAt: now,
    evidence: a.evidence.slice(0, 20),
    description: `stage ${a.stage} dead-lettered ${a.deadLettered} of ${a.records} records in ${Math.round(a.windowMs / 1000)} s (threshold ${a.ratio}): records are being set aside, see audit.dlq.v1 and replay them after a fix (audit dlq replay)`,
    attributes: {
      'pipeline.stage': a.stage,
      'pipeline.group_id': a.groupId,
      'pipeline.topic': a.topic,
      'pipeline.partition': String(a.partition),
      'pipeline.records': String(a.records),
      'pipeline.threshold': String(a.ratio),
    },
  };
  const encoded = alertCodec.encode(alert);
  return { key: `${DEAD_LETTER_RATE_RULE}:${a.stage}`, value: encoded.value, headers: encoded.headers, timestamp: now };
}
