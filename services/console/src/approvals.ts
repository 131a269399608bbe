import { decideApproval, type DecisionResult } from '@jwt-audit/cli';
import { ApprovalBook, type ApprovalView } from '@jwt-audit/edge';
import { approvalCodec, TOPICS } from '@jwt-audit/events';
import { CompactedTopicFollower, type Kafka } from '@jwt-audit/kafka';
import type { Logger } from '@jwt-audit/runtime';
import type { User } from './auth.js';
import { html } from './html.js';
import { page, type PageContext } from './layout.js';
import type { ParamError } from './search-query.js';

/**
 * Just-in-time approvals in the console: the pending ones, folded from audit.approvals.v1 exactly
 * as `audit approve|deny` and every interceptor fold it (packages/edge's ApprovalBook), and a
 * decision written by the CLI's own `decideApproval`, with the signed-in user as the approver: the
 * same checks (unknown id, the requester deciding their own request, not pending, the same
 * approver twice) and the same records (the decision on audit.approvals.v1, approval.granted /
 * approval.denied on audit.raw.v1).
 */
export interface Approvals {
  pending(now: number): Promise<ApprovalView[]>;
  decide(d: { id: string; approver: string; decision: 'granted' | 'denied'; reason: string | null }): Promise<DecisionResult>;
  stop(): Promise<void>;
}

/** Kafka could not be read or written: the page says so (503) instead of blaming the index. */
export class ApprovalsUnavailable extends Error {}

const unavailable =
  (what: string) =>
  (err: unknown): never => {
    throw new ApprovalsUnavailable(`${what}: ${(err as Error).message}`);
  };

/**
 * The console keeps one follower of audit.approvals.v1 (packages/kafka's CompactedTopicFollower, as the interceptors follow it),
 * started with the first Approvals page, folding every record into one ApprovalBook as the
 * interceptors do; a page waits until the follower has read what was written before it (its own
 * decisions included), instead of reading the whole topic with a fresh consumer group per page.
 */
export function createApprovals(kafka: Kafka, instance: string, logger: Logger): Approvals {
  const book = new ApprovalBook();
  const follower = new CompactedTopicFollower(kafka, logger, {
    topic: TOPICS.approvals,
    component: 'approvals',
    decode: (value, headers) => approvalCodec.decode(value, headers as Record<string, Buffer>),
    onBatch: (records) => {
      for (const r of records) book.apply(r.key, r.value);
    },
    groupPrefix: `jwt-audit-console-approvals-${instance}`,
    // the first Approvals page waits in caughtUp(), not here
    startupTimeoutMs: 0,
  });
  return {
    async pending(now) {
      await follower.caughtUp().catch(unavailable('audit.approvals.v1 could not be read'));
      return book
        .ids()
        .map((id) => book.get(id, now)!)
        .filter((v) => v.status === 'pending')
        .sort((a, b) => a.requestedAt - b.requestedAt);
    },
    decide: (d) => decideApproval(kafka, { ...d, instance }).catch(unavailable('the decision could not be written')),
    stop: () => follower.stop(),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MAX_REASON = 1024;

export interface DecisionForm {
  id: string;
  decision: 'granted' | 'denied';
  reason: string | null;
}

/** The decision form's fields checked (every problem named at once); the CSRF token is checked before. */
export function parseDecisionForm(form: URLSearchParams): { ok: true; value: DecisionForm } | { ok: false; errors: ParamError[] } {
  const errors: ParamError[] = [];
  const one = (name: string): string | null => {
    const all = form.getAll(name);
    if (all.length > 1) errors.push({ param: name, message: 'given more than once' });
    return all[0] ?? null;
  };
  const idRaw = one('id');
  const decisionRaw = one('decision');
  const reasonRaw = one('reason');
  // exactly as the page wrote it: no trimming or case folding, so a mangled id is never read as another
  const id = idRaw ?? '';
  if (!UUID.test(id)) errors.push({ param: 'id', message: 'expected an approval id (a lower-case UUID)' });
  if (decisionRaw !== 'approve' && decisionRaw !== 'deny') errors.push({ param: 'decision', message: 'expected approve or deny' });
  const reason = reasonRaw?.trim() ?? '';
  if (reason.length > MAX_REASON) errors.push({ param: 'reason', message: `at most ${MAX_REASON} characters` });
  else if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(reason)) errors.push({ param: 'reason', message: 'no control characters' });
  else if (decisionRaw === 'deny' && reason === '') errors.push({ param: 'reason', message: 'required to deny: the requester and the audit trail see it' });
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { id, decision: decisionRaw === 'approve' ? 'granted' : 'denied', reason: reason === '' ? null : reason } };
}

/** A refused decision as an HTTP status: unknown 404, the requester's own 403, already settled 409. */
export function refusalStatus(code: string | undefined): number {
  return code === 'unknown_approval' ? 404 : code === 'self_approval' ? 403 : 409;
}

const time = (ms: number) => new Date(ms).toISOString();

export function approvalsPage(
  ctx: PageContext & { user: User },
  views: ApprovalView[],
  o: { canDecide: boolean; approveRole: string; notice?: string; now: number },
): string {
  const csrf = ctx.user.csrf ?? '';
  return page(
    ctx,
    'Approvals',
    '/approvals',
    html`<h1>Approvals</h1>
${o.notice ? html`<p class="notice" id="notice">${o.notice}</p>` : ''}
<p>Requests the interceptor holds or ticketed until another person decides (${views.length} pending). ${o.canDecide ? 'You may approve or deny; not your own requests.' : html`Deciding needs <code>${o.approveRole}</code>; you can only look.`}</p>
<table class="results" id="approvals" data-csrf="${o.canDecide ? csrf : ''}"><thead><tr><th>requested</th><th>requester</th><th>request</th><th>fingerprint</th><th>rule</th><th>mode</th><th>approvers</th><th>expires</th>${o.canDecide ? html`<th>decide</th>` : ''}</tr></thead><tbody>
${views.map((v) => {
  const r = v.request;
  return html`<tr data-approval="${v.id}"><td>${time(v.requestedAt)}</td><td class="requester">${r.requester}</td><td><code>${r.method} ${r.path}</code></td><td><code>${r.fingerprint}</code></td><td>${r.rule}</td><td>${r.mode}${r.mode === 'ticket' ? ` (valid ${r.validSec} s)` : ''}</td><td>${v.approvers.length} of ${r.approversRequired}${v.approvers.length ? `: ${v.approvers.join(', ')}` : ''}</td><td>${time(r.decideBy)} (in ${Math.max(0, Math.round((r.decideBy - o.now) / 1000))} s)</td>
${
  o.canDecide
    ? html`<td>${
        r.requester === ctx.user.sub
          ? html`<small>your own request</small>`
          : html`<form method="post" action="/approvals/decide" class="inline decide"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="id" value="${v.id}"><input type="text" name="reason" maxlength="${MAX_REASON}" placeholder="reason (required to deny)"><button type="submit" name="decision" value="approve">Approve</button><button type="submit" name="decision" value="deny">Deny</button></form>`
      }</td>`
    : ''
}</tr>`;
})}</tbody></table>${views.length === 0 ? html`<p class="empty">No pending approval.</p>` : ''}`,
  );
}
