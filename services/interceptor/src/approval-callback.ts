import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { DecisionCheck } from '@jwt-audit/edge';
import type { FieldError } from '@jwt-audit/events';
import type { ErrorDefinition } from '@jwt-audit/runtime';
import type { ApprovalGate } from './approvals.js';
import { problem, PROBLEMS, sendProblem } from './problem.js';

/**
 * POST <approvals.callback.path> (default /audit/v1/approvals/callback): a decision from a chat
 * tool's buttons (or anything that can sign). The signature is the alert webhook's scheme
 * (services/alert-webhook/src/signature.ts), so a receiver that verifies alert deliveries signs
 * its answer the same way:
 *
 *   X-Audit-Signature: t=<unix time, ms>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *   body: {"approvalId": "<uuid>", "decision": "approve" | "deny", "approver": "<who pressed>", "reason": "..."}
 *
 * Every configured key is tried (rotation). Accepted while |now - t| <= maxSkewSec; each accepted
 * signature is remembered for 2 x maxSkewSec and a repeat is 409 `replayed`, so a captured
 * callback cannot be played again. The approver is who the signer says pressed the button: the
 * chat tool vouches for its users, the secret vouches for the chat tool.
 *
 * 202 {approvalId, status, approvers}; 400 (body, naming every bad field); 401 (signature,
 * timestamp); 403 (self-approval); 404 (unknown approval); 405; 409 (replayed, not pending,
 * already approved by this approver); 413; 415. Problem documents (RFC 9457) throughout.
 */

export interface CallbackOptions {
  gate: ApprovalGate;
  hmacKeys: Array<{ id: string; secret: string }>;
  maxSkewSec: number;
  maxBodyBytes: number;
  now?: () => number;
  onResult?: (status: number) => void;
}

export function signCallbackBody(secret: string, body: string | Buffer, tMs = Date.now()): string {
  const mac = createHmac('sha256', secret).update(`${tMs}.`).update(body).digest('hex');
  return `t=${tMs},v1=${mac}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME = /^[^\u0000-\u001f\u007f]{1,256}$/u;

interface Decision {
  approvalId: string;
  decision: 'approve' | 'deny';
  approver: string;
  reason: string | null;
}

/** Every field that is wrong, at once. */
export function parseDecision(body: Buffer): { ok: true; value: Decision } | { ok: false; errors: FieldError[] } {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, errors: [{ field: '(root)', message: 'not JSON' }] };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, errors: [{ field: '(root)', message: 'expected an object' }] };
  const o = v as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(o))
    if (!['approvalId', 'decision', 'approver', 'reason'].includes(k)) errors.push({ field: k.slice(0, 64), message: 'unknown field' });
  if (typeof o.approvalId !== 'string' || !UUID.test(o.approvalId))
    errors.push({ field: 'approvalId', message: 'expected an approval id (a lower-case UUID)' });
  if (o.decision !== 'approve' && o.decision !== 'deny') errors.push({ field: 'decision', message: 'expected "approve" or "deny"' });
  if (typeof o.approver !== 'string' || !NAME.test(o.approver))
    errors.push({ field: 'approver', message: 'expected a name of 1-256 characters without control characters' });
  if (o.reason !== undefined && o.reason !== null && (typeof o.reason !== 'string' || o.reason.length > 1024))
    errors.push({ field: 'reason', message: 'expected a string of at most 1024 characters' });
  if (o.decision === 'deny' && (typeof o.reason !== 'string' || o.reason.trim() === '')) errors.push({ field: 'reason', message: 'required to deny' });
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      approvalId: o.approvalId as string,
      decision: o.decision as Decision['decision'],
      approver: o.approver as string,
      reason: typeof o.reason === 'string' ? o.reason : null,
    },
  };
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) {
      req.resume();
      return resolve('too_large');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        resolve('too_large');
      } else chunks.push(c);
    });
    req.on('end', () => (over ? undefined : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function checkSignature(
  header: string | string[] | undefined,
  body: Buffer,
  keys: CallbackOptions['hmacKeys'],
  nowMs: number,
  skewMs: number,
): { ok: true; mac: string } | { ok: false; detail: string } {
  if (typeof header !== 'string' || header.length > 256) return { ok: false, detail: 'X-Audit-Signature missing or malformed' };
  const parts = new Map<string, string>();
  for (const p of header.split(',')) {
    const i = p.indexOf('=');
    if (i <= 0) return { ok: false, detail: 'X-Audit-Signature malformed' };
    const k = p.slice(0, i).trim();
    if (parts.has(k)) return { ok: false, detail: 'X-Audit-Signature names a part twice' };
    parts.set(k, p.slice(i + 1).trim());
  }
  const tRaw = parts.get('t') ?? '';
  const v1 = parts.get('v1') ?? '';
  if (!/^\d{1,16}$/.test(tRaw) || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, detail: 'X-Audit-Signature malformed (t=<ms>,v1=<64 hex>)' };
  const t = Number(tRaw);
  if (Math.abs(nowMs - t) > skewMs) return { ok: false, detail: 'signature timestamp outside the allowed window' };
  const given = Buffer.from(v1, 'hex');
  for (const k of keys) {
    const expected = createHmac('sha256', k.secret).update(`${tRaw}.`).update(body).digest();
    if (timingSafeEqual(expected, given)) return { ok: true, mac: v1 };
  }
  return { ok: false, detail: 'signature does not match' };
}

/** Why a decision was not taken, as its problem type. */
const DECISION_PROBLEMS: Record<Exclude<DecisionCheck, { ok: true }>['code'], ErrorDefinition> = {
  unknown_approval: PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_UNKNOWN,
  self_approval: PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_SELF,
  already_decided: PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_ALREADY_DECIDED,
  not_pending: PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_NOT_PENDING,
};

export function approvalCallbackHandler(o: CallbackOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = o.now ?? Date.now;
  const skewMs = o.maxSkewSec * 1000;
  // accepted signatures, for 2 x the window a signature is valid in
  const seen = new LRUCache<string, true>({ max: 100_000, ttl: 2 * skewMs });
  const answer = (res: ServerResponse, type: ErrorDefinition, detail?: string, extra: Record<string, unknown> = {}) => {
    const p = problem(type, detail, extra);
    o.onResult?.(p.status);
    sendProblem(res, p);
  };
  return async (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('allow', 'POST');
      return answer(res, PROBLEMS.AUDIT_ERR_HTTP_METHOD_NOT_ALLOWED, 'decisions are POSTed');
    }
    const ct = (typeof req.headers['content-type'] === 'string' ? req.headers['content-type'] : '').split(';')[0]!.trim().toLowerCase();
    if (ct !== 'application/json') {
      req.resume();
      return answer(res, PROBLEMS.AUDIT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE, 'send application/json');
    }
    const body = await readBody(req, o.maxBodyBytes);
    if (body === 'too_large') {
      res.setHeader('connection', 'close');
      return answer(res, PROBLEMS.AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE, `a decision is at most ${o.maxBodyBytes} bytes`);
    }
    const sig = checkSignature(req.headers['x-audit-signature'], body, o.hmacKeys, now(), skewMs);
    if (!sig.ok) return answer(res, PROBLEMS.AUDIT_ERR_HTTP_BAD_SIGNATURE, sig.detail);
    if (seen.has(sig.mac)) return answer(res, PROBLEMS.AUDIT_ERR_HTTP_REPLAYED, 'this signed decision was already received', { reason: 'replayed' });
    const parsed = parseDecision(body);
    if (!parsed.ok) return answer(res, PROBLEMS.AUDIT_ERR_HTTP_INVALID_DECISION, 'the body does not describe a decision', { errors: parsed.errors });
    seen.set(sig.mac, true);
    const d = parsed.value;
    const result = o.gate.decide(d.approvalId, d.approver, d.decision === 'approve' ? 'granted' : 'denied', d.reason, 'callback');
    if (!result.ok) {
      return answer(res, DECISION_PROBLEMS[result.code], result.detail, {
        reason: result.code,
        ...(result.view ? { approvalStatus: result.view.status } : {}),
      });
    }
    o.onResult?.(202);
    const out = JSON.stringify({
      approvalId: d.approvalId,
      status: result.view.status,
      approvers: result.view.approvers,
      approversRequired: result.view.request.approversRequired,
    });
    res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out), 'cache-control': 'no-store' });
    res.end(out);
  };
}
