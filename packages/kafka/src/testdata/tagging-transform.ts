/**
 * A transform module for the transform-pool tests: tags each event, refuses a "poison" one, and
 * ends its own thread once (the first time it sees a "crash" event, marked by a file) so a test
 * can watch a thread die and its batch be retried on a new one.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditEvent } from '@jwt-audit/events';
import { AuditError } from '@jwt-audit/runtime';
import type { OffloadedTransform } from '../transform-pool.js';

export function createTransform(data: { tag: string; dir: string; failToStart?: boolean }): OffloadedTransform {
  if (data.failToStart) throw new Error('no policy file at /nonexistent.json');
  return {
    transform(event: AuditEvent) {
      const kind = event.attributes.test;
      if (kind === 'poison') throw new AuditError('AUDIT_ERR_TEST_POISON', `cannot take event ${event.id}`);
      const marker = path.join(data.dir, 'crashed-once');
      if (kind === 'crash' && !existsSync(marker)) {
        writeFileSync(marker, '1');
        process.exit(3); // in a worker thread: ends the thread, not the process
      }
      return { ...event, attributes: { ...event.attributes, tag: data.tag } };
    },
    notes: (out: AuditEvent) => out.attributes.n ?? null,
  };
}
