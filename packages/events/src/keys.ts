import type { AuditEvent } from './types.js';

/**
 * The partition key rule: the acting subject, else the client IP, else the event id. One
 * subject's events thus stay in order on one partition, which per-subject rules depend on.
 */
export function partitionKey(event: Pick<AuditEvent, 'id' | 'actor' | 'network'>): string {
  if (event.actor.sub) return `sub:${event.actor.sub}`;
  if (event.network?.clientIp) return `ip:${event.network.clientIp}`;
  return `id:${event.id}`;
}
