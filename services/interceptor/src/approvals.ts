import { randomUUID } from 'node:crypto';
import { CompactedTopicFollower, type Kafka } from '@jwt-audit/kafka';
import {
  TOPICS,
  alertCodec,
  approvalCodec,
  eventCodec,
  newId,
  partitionKey,
  type Actor,
  type ApprovalRecord,
  type AuditEvent,
  type Source,
} from '@jwt-audit/events';
import {
  ApprovalBook,
  approvalEvent,
  approvalKey,
  approvalRequestedAlert,
  checkDecision,
  type ApprovalRule,
  type ApprovalView,
  type DecisionCheck,
  type Exchange,
  useClaimKey,
} from '@jwt-audit/edge';
import type { Logger } from '@jwt-audit/runtime';
import type { EventSink } from './engine.js';
import type { SpoolRecord } from './spool.js';

/**
 * Just-in-time approval at the edge: the runtime half (packages/edge/src/approvals.ts and
 * approval-state.ts are the pure half). State is the fold of the compacted audit.approvals.v1,
 * which every instance follows from the beginning (as revocations), so a request ticketed on one
 * instance is released by any other, and a decision written anywhere (`audit approve`, the signed
 * callback on any instance) reaches the instance holding a request.
 *
 * What this instance writes (its request, a decision, an end) is applied to its own book at once,
 * before the topic brings it back. A ticket's use is different: the log is the arbiter. The
 * instance writes a use claim (its instance id and a random nonce, key use:<id>:<nonce>) and
 * forwards the request only once the follower has read that claim back as the first counting
 * claim of the approval (approval-state.ts); an earlier claim, from any instance, wins and the
 * request is refused as already used. A claim not read back within claimTimeoutMs is refused too
 * (fail closed: the ticket may then be spent with nothing forwarded, never forwarded twice). On
 * this instance a second presentation while a claim is in flight is refused at once.
 */

/** How long a ticket's use waits for its claim to come back from the log before refusing (fail closed). */
export const CLAIM_TIMEOUT_MS = 5_000;

export function approvalRecord(r: ApprovalRecord): SpoolRecord {
  const { value, headers } = approvalCodec.encode(r);
  return { topic: TOPICS.approvals, key: approvalKey(r), value, headers };
}

export interface ApprovalGateOptions {
  book: ApprovalBook;
  sink: EventSink;
  source: Source;
  logger: Logger;
  now?: () => number;
  onStep?: (step: string) => void;
  /** Default CLAIM_TIMEOUT_MS. */
  claimTimeoutMs?: number;
}

export type Redeemed =
  | { ok: true; view: ApprovalView }
  | {
      ok: false;
      code:
        | 'unknown_approval'
        | 'approval_pending'
        | 'approval_denied'
        | 'approval_used'
        | 'approval_expired'
        | 'wrong_subject'
        | 'request_mismatch'
        | 'claim_unconfirmed';
      detail: string;
      view?: ApprovalView;
    };

export interface RequestedBy {
  rule: ApprovalRule;
  routeName: string;
  fingerprint: string;
  actor: Actor & { sub: string };
  exchange: Exchange;
}

export class ApprovalGate {
  readonly book: ApprovalBook;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly now: () => number;
  private readonly log: Logger;
  /** Approvals this instance has a use claim in flight for. */
  private readonly claiming = new Set<string>();

  constructor(private readonly o: ApprovalGateOptions) {
    this.book = o.book;
    this.now = o.now ?? Date.now;
    this.log = o.logger.child({ component: 'approvals' });
  }

  /** The follower applied records for these approvals: wake whoever waits on them. */
  changed(id: string): void {
    const ws = this.waiters.get(id);
    if (ws) for (const w of [...ws]) w();
  }

  private write(records: ApprovalRecord[], events: AuditEvent[], extra: SpoolRecord[] = []): boolean {
    const out: SpoolRecord[] = [];
    for (const r of records) {
      out.push(approvalRecord(r));
      this.book.apply(approvalKey(r), r);
    }
    for (const e of events) {
      const { value, headers } = eventCodec.encode(e);
      out.push({ topic: TOPICS.raw, key: partitionKey(e), value, headers });
    }
    out.push(...extra);
    for (const r of records) this.changed(r.approvalId);
    return this.o.sink.enqueue(out);
  }

  /** A request that needs approval: a new approval, its audit event, and the alert that notifies approvers. */
  request(by: RequestedBy): ApprovalView {
    const at = this.now();
    const id = newId();
    const r = by.rule;
    const decideMs = (r.mode === 'hold' ? r.holdSec : r.decideSec) * 1000;
    const record: ApprovalRecord = {
      approvalId: id,
      schemaVersion: 1,
      step: 'requested',
      at,
      by: by.actor.sub,
      reason: r.reason,
      request: {
        fingerprint: by.fingerprint,
        requester: by.actor.sub,
        clientId: by.actor.clientId,
        rule: r.name,
        route: by.routeName,
        method: by.exchange.request.method === 'HEAD' ? 'GET' : by.exchange.request.method,
        path: by.exchange.request.path + (by.exchange.request.query === null ? '' : `?${by.exchange.request.query}`),
        mode: r.mode,
        approversRequired: r.approvers,
        decideBy: at + decideMs,
        validSec: r.validSec,
        instance: this.o.source.instance,
      },
    };
    this.book.apply(approvalKey(record), record);
    const view = this.book.get(id, at)!;
    const event = approvalEvent('approval.requested', view, { source: this.o.source, actor: by.actor, at, reason: r.reason, exchange: by.exchange });
    const alert = approvalRequestedAlert(view, { eventId: event.id, actor: by.actor, clientIp: by.exchange.network?.clientIp ?? null, at, reason: r.reason });
    const encoded = alertCodec.encode(alert);
    this.write([record], [event], [{ topic: TOPICS.alerts, key: `sub:${by.actor.sub}`, value: encoded.value, headers: encoded.headers }]);
    this.o.onStep?.('requested');
    this.log.info({ approval: id, rule: r.name, mode: r.mode, requester: by.actor.sub, route: by.routeName }, 'approval requested');
    return view;
  }

  /** Resolves once the approval is no longer pending, or at `ms` (then still pending), or when `signal` fires. */
  async wait(id: string, ms: number, signal: AbortSignal): Promise<ApprovalView> {
    return (await this.waitFor(id, ms, (v) => v.status !== 'pending', signal))!;
  }

  /** Ends an approval at the edge: a held request released or a ticket used (`used`), or no decision in time (`expired`). */
  end(view: ApprovalView, step: 'used' | 'expired', o: { reason: string | null; actor: Actor; exchange?: Exchange }): ApprovalView {
    const at = this.now();
    const record: ApprovalRecord = {
      approvalId: view.id,
      schemaVersion: 1,
      step,
      at,
      by: step === 'used' ? view.request.requester : this.o.source.instance,
      reason: o.reason,
      request: null,
    };
    this.book.apply(approvalKey(record), record);
    const after = this.book.get(view.id, at) ?? view;
    const event = approvalEvent(step === 'used' ? 'approval.used' : 'approval.expired', after, {
      source: this.o.source,
      actor: o.actor,
      at,
      reason: o.reason,
      ...(o.exchange ? { exchange: o.exchange } : {}),
    });
    this.write([record], [event]);
    this.o.onStep?.(step);
    return after;
  }

  /**
   * A ticket presented with Audit-Approval: passes once, for the requester, for exactly the
   * request approved, while valid. A refusal leaves the ticket as it was (someone else's retry
   * or a changed body cannot burn the requester's ticket).
   */
  redeem(id: string, subject: string, fingerprint: string): Redeemed {
    const view = this.book.get(id, this.now());
    if (!view) return { ok: false, code: 'unknown_approval', detail: 'no such approval' };
    if (view.request.requester !== subject) return { ok: false, code: 'wrong_subject', detail: 'the approval was asked for by another subject', view };
    if (view.request.fingerprint !== fingerprint)
      return {
        ok: false,
        code: 'request_mismatch',
        detail: 'the approval is for another request (method, path, query and body must be exactly those approved)',
        view,
      };
    if (view.request.mode !== 'ticket') return { ok: false, code: 'unknown_approval', detail: 'no such ticket', view };
    switch (view.status) {
      case 'granted':
        return { ok: true, view };
      case 'pending':
        return { ok: false, code: 'approval_pending', detail: `waiting for ${view.request.approversRequired - view.approvers.length} more approver(s)`, view };
      case 'denied':
        return { ok: false, code: 'approval_denied', detail: `denied${view.reason ? `: ${view.reason}` : ''}`, view };
      case 'used':
        return { ok: false, code: 'approval_used', detail: 'the ticket was already used', view };
      default:
        return { ok: false, code: 'approval_expired', detail: view.reason ?? 'expired', view };
    }
  }

  /**
   * A ticket presented with Audit-Approval, used: checked as redeem() does, then claimed on the
   * log; resolves ok (the use written and audited: forward the request) only when this
   * instance's claim is the first counting claim read back from audit.approvals.v1.
   */
  async use(id: string, subject: string, fingerprint: string, o: { actor: Actor; exchange: Exchange }): Promise<Redeemed> {
    const r = this.redeem(id, subject, fingerprint);
    if (!r.ok) return r;
    if (this.claiming.has(id))
      return { ok: false, code: 'approval_used', detail: 'the ticket is being used by another request', view: { ...r.view, status: 'used' } };
    const nonce = randomUUID();
    const claim: ApprovalRecord = { approvalId: id, schemaVersion: 1, step: 'used', at: this.now(), by: this.o.source.instance, reason: null, request: null };
    const { value, headers } = approvalCodec.encode(claim);
    this.claiming.add(id);
    const started = this.now();
    try {
      // not applied to the book: only the log's order says whose claim is first
      if (!this.o.sink.enqueue([{ topic: TOPICS.approvals, key: useClaimKey(id, nonce), value, headers }])) {
        return {
          ok: false,
          code: 'claim_unconfirmed',
          detail: 'the ticket could not be claimed now (the audit pipeline is not accepting records); try again',
          view: r.view,
        };
      }
      const timeoutMs = this.o.claimTimeoutMs ?? CLAIM_TIMEOUT_MS;
      const settled = await this.waitFor(id, timeoutMs, (v) => v.status !== 'granted');
      if (!settled || settled.status === 'granted') {
        this.log.warn({ approval: id, timeoutMs }, 'ticket use claim not read back in time; refused (the ticket may be spent)');
        return {
          ok: false,
          code: 'claim_unconfirmed',
          detail: `the ticket's use could not be confirmed within ${timeoutMs} ms; it may be spent`,
          view: settled ?? r.view,
        };
      }
      if (settled.usedBy?.nonce !== nonce) {
        if (settled.status === 'used') return { ok: false, code: 'approval_used', detail: 'the ticket was already used', view: settled };
        return this.redeem(id, subject, fingerprint);
      }
      this.log.debug({ approval: id, claimMs: this.now() - started }, 'ticket use claim won');
      return { ok: true, view: this.end(settled, 'used', { reason: null, actor: o.actor, exchange: o.exchange }) };
    } finally {
      this.claiming.delete(id);
    }
  }

  /** Resolves with the view once `done` holds for it (or it is gone: undefined), or at `ms` or when `signal` fires with the view as it is. */
  private waitFor(id: string, ms: number, done: (v: ApprovalView) => boolean, signal?: AbortSignal): Promise<ApprovalView | undefined> {
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const finish = () => {
        clearTimeout(timer);
        set.delete(check);
        if (set.size === 0) this.waiters.delete(id);
        signal?.removeEventListener('abort', finish);
        resolve(this.book.get(id, this.now()));
      };
      const check = () => {
        const v = this.book.get(id, this.now());
        if (!v || done(v)) finish();
      };
      const timer = setTimeout(finish, ms);
      set.add(check);
      signal?.addEventListener('abort', finish, { once: true });
      check();
    });
  }

  /** A decision from the signed callback: checked against the book, written, audited. */
  decide(id: string, approver: string, decision: 'granted' | 'denied', reason: string | null, via: string): DecisionCheck {
    const at = this.now();
    const check = checkDecision(this.book, id, approver, at);
    if (!check.ok) return check;
    const record: ApprovalRecord = { approvalId: id, schemaVersion: 1, step: decision, at, by: approver, reason, request: null };
    this.book.apply(approvalKey(record), record);
    const after = this.book.get(id, at)!;
    const actor: Actor = { sub: approver, clientId: null, tenant: null, roles: [], scopes: [] };
    const event = approvalEvent(decision === 'granted' ? 'approval.granted' : 'approval.denied', after, { source: this.o.source, actor, at, reason, via });
    this.write([record], [event]);
    this.o.onStep?.(decision);
    this.log.info({ approval: id, approver, decision, status: after.status, via }, 'approval decided');
    return { ok: true, view: after };
  }
}

/**
 * Follows audit.approvals.v1 from the beginning (packages/kafka's CompactedTopicFollower, as
 * RevocationFollower does for revocations: a group of its own, nothing committed). start()
 * resolves once caught up with the end offsets measured at start, or after startupTimeoutMs.
 */
export type ApprovalFollower = CompactedTopicFollower<ApprovalRecord>;

export function approvalFollower(kafka: Kafka, gate: ApprovalGate, logger: Logger, opts: { startupTimeoutMs: number; groupPrefix: string }): ApprovalFollower {
  return new CompactedTopicFollower(kafka, logger, {
    topic: TOPICS.approvals,
    component: 'approvals',
    decode: (value, headers) => approvalCodec.decode(value, headers as Record<string, Buffer>),
    onBatch: (records) => {
      const touched = new Set<string>();
      for (const r of records) {
        const id = gate.book.apply(r.key, r.value);
        if (id) touched.add(id);
      }
      for (const id of touched) gate.changed(id);
    },
    describeState: () => ({ approvals: gate.book.size() }),
    groupPrefix: opts.groupPrefix,
    startupTimeoutMs: opts.startupTimeoutMs,
  });
}
