/**
 * Retry rules, in one place: a delivery succeeded on 2xx; the statuses of the webhookDelivery
 * policy (packages/runtime backoff.ts: 408, 425, 429 and 5xx), timeouts and network errors are retried with exponential backoff and full jitter (a Retry-After in seconds
 * on 429/503 is honoured up to the max delay); any other status is permanent (the receiver
 * rejects the alert as it is) and goes to the DLQ at once.
 */
import { retriesStatus, RETRY_POLICIES, type RetryPolicy } from '@jwt-audit/runtime';

export type Outcome = { kind: 'delivered' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'permanent'; reason: string };

export function classifyResponse(status: number, retryAfter: string | null, policy: RetryPolicy = RETRY_POLICIES.webhookDelivery): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (retriesStatus(policy, status)) {
    const secs = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : undefined;
    return { kind: 'retry', reason: `HTTP ${status}`, ...(secs !== undefined ? { retryAfterMs: secs } : {}) };
  }
  return { kind: 'permanent', reason: `HTTP ${status}` };
}

export function classifyError(err: unknown): Outcome {
  const e = err as { name?: string; message?: string; cause?: { code?: string } };
  return { kind: 'retry', reason: e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message ?? 'network error') };
}
