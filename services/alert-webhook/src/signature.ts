import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signature scheme (documented for receivers in the README):
 *
 *   X-Audit-Signature: t=<unix time, ms>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The timestamp is inside the MAC, so a receiver that rejects signatures older than a few minutes
 * defeats replays; the body is MAC'ed byte for byte as sent (verify before parsing the JSON).
 * X-Audit-Alert-Id carries the alert id: deliveries are at-least-once, dedupe on it.
 */
export const SIGNATURE_HEADER = 'x-audit-signature';
export const ALERT_ID_HEADER = 'x-audit-alert-id';

export function sign(secret: string, body: string, timestampMs: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampMs}.${body}`).digest('hex');
  return `t=${timestampMs},v1=${mac}`;
}

/** Receiver side: true when the header is a valid signature of the body not older than toleranceMs. */
export function verify(secret: string, body: string, header: string | undefined, nowMs: number, toleranceMs = 5 * 60_000): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(nowMs - t) > toleranceMs || typeof parts.v1 !== 'string') return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(parts.v1);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
