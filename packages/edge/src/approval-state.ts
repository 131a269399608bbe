import type { ApprovalRecord, ApprovalRequest } from '@jwt-audit/events';

/**
 * The state of every approval, folded from the compacted audit.approvals.v1 (keys in
 * approval.avsc): the request, each approver's decision, and its end. Every interceptor instance
 * and `audit approve|deny` fold the same records the same way, so they agree on a state without
 * talking to each other. Records of one approval may arrive in any order (a decision before its
 * request is kept until the request arrives); the outcome depends only on the records' `at`:
 *
 *   - a decision by the requester is ignored (separation of duties), as is one after decideBy;
 *     names are compared as the person they designate (partyOf: Unicode compatibility form,
 *     invisible characters dropped, blanks trimmed, case folded), so " Alice" or "ali\u200bce" is
 *     the requester "alice", and one approver under two spellings counts once;
 *   - decisions count in time order: the first denial, or the approversRequired-th distinct
 *     approver, settles it; later decisions change nothing;
 *   - pending past decideBy is expired; a granted ticket not used within validSec is expired;
 *   - an end record (used, expired) is final;
 *   - a ticket's use is arbitrated by the log: an interceptor about to forward a ticketed request
 *     writes a use claim (key use:<id>:<nonce>, step used, by its instance id) and forwards only
 *     once it reads its own claim back as the first counting claim. Claims count in LOG order
 *     (the order apply() sees them: audit.approvals.v1 has one partition, so one approval's records
 *     are totally ordered), not by `at`, so every reader names the same winner whatever the
 *     clocks; a claim counts when the ticket was granted and its `at` is within validUntil. The
 *     writer's own claim is never applied before the log brings it back.
 */

export type ApprovalStatus = 'pending' | 'granted' | 'denied' | 'used' | 'expired';

export interface ApprovalView {
  id: string;
  request: ApprovalRequest;
  requestedAt: number;
  status: ApprovalStatus;
  /** Distinct approvers who granted (in time order), none of them the requester. */
  approvers: string[];
  deniedBy: string | null;
  /** The denial's reason, or what ended it. */
  reason: string | null;
  grantedAt: number | null;
  /** A granted ticket: presented after this it is expired. */
  validUntil: number | null;
  /** Decisions that did not count, and why (the requester's own, too late). */
  ignored: Array<{ by: string; step: 'granted' | 'denied'; why: 'self_approval' | 'too_late' }>;
  /** The use claim that won (the first counting one in log order): the instance that wrote it, its nonce, its time. */
  usedBy: { instance: string; nonce: string; at: number } | null;
}

interface Entry {
  request: ApprovalRecord | null;
  decisions: Map<string, ApprovalRecord>;
  end: ApprovalRecord | null;
  /** Use claims by nonce, in the order applied (Map keeps insertion order; a duplicate keeps its first place). */
  claims: Map<string, ApprovalRecord>;
}

const NONCE = /^[0-9a-f-]{36}$/;

/** The key of a ticket's use claim (see the header comment); `nonce` is a random UUID of the claiming instance. */
export function useClaimKey(approvalId: string, nonce: string): string {
  return `use:${approvalId}:${nonce}`;
}

/**
 * The person a name designates, for separation of duties. Names arrive from a JWT's sub, a
 * signer's "approver" field and `--approver`: spellings no reader of the Approvals page or an
 * event can tell apart (blanks, zero-width and other format characters, NFD or full-width
 * letters, case) must not make the requester someone else, or one approver two people. Folding
 * too much only ever refuses a decision (fail closed).
 */
export function partyOf(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/\p{Default_Ignorable_Code_Point}/gu, '')
    .replace(/\s+/gu, ' ')
    .trim()
    .toLowerCase()
    .normalize('NFKC');
}

export function approvalKey(r: Pick<ApprovalRecord, 'approvalId' | 'step' | 'by'>): string {
  switch (r.step) {
    case 'requested':
      return `req:${r.approvalId}`;
    case 'granted':
    case 'denied':
      return `dec:${r.approvalId}:${r.by}`;
    default:
      return `end:${r.approvalId}`;
  }
}

/** The approval id a key belongs to, or null for a key this fold does not know. */
export function approvalIdOfKey(key: string): string | null {
  const m = /^(req|dec|end|use):([0-9a-f-]{36})(?::.*)?$/s.exec(key);
  if (!m) return null;
  if (m[1] === 'use' && !NONCE.test(key.slice(4 + 36 + 1))) return null;
  return m[2]!;
}

export class ApprovalBook {
  private readonly entries = new Map<string, Entry>();

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) this.entries.set(id, (e = { request: null, decisions: new Map(), end: null, claims: new Map() }));
    return e;
  }

  /** Applies one record of the topic (null: a tombstone, the key forgotten). Returns the approval id it touched. */
  apply(key: string, value: ApprovalRecord | null): string | null {
    const id = approvalIdOfKey(key);
    if (id === null) return null;
    const e = this.entry(id);
    if (key.startsWith('req:')) e.request = value;
    else if (key.startsWith('dec:')) {
      const by = key.slice(4 + 36 + 1);
      if (value === null) e.decisions.delete(by);
      else e.decisions.set(by, value);
    } else if (key.startsWith('use:')) {
      const nonce = key.slice(4 + 36 + 1);
      // a claim is a used step; anything else under a claim key is not a claim (and a replay keeps its first place)
      if (value === null || value.step !== 'used' || value.approvalId !== id) e.claims.delete(nonce);
      else if (!e.claims.has(nonce)) e.claims.set(nonce, value);
    } else e.end = value;
    if (!e.request && e.decisions.size === 0 && !e.end && e.claims.size === 0) this.entries.delete(id);
    return id;
  }

  get(id: string, now: number): ApprovalView | undefined {
    const e = this.entries.get(id);
    if (!e?.request?.request) return undefined;
    const req = e.request.request;
    const view: ApprovalView = {
      id,
      request: req,
      requestedAt: e.request.at,
      status: 'pending',
      approvers: [],
      deniedBy: null,
      reason: null,
      grantedAt: null,
      validUntil: null,
      ignored: [],
      usedBy: null,
    };
    const decisions = [...e.decisions.values()].sort((a, b) => a.at - b.at || (a.by < b.by ? -1 : 1));
    const requester = partyOf(req.requester);
    for (const d of decisions) {
      const step = d.step === 'denied' ? 'denied' : 'granted';
      if (partyOf(d.by) === requester) {
        view.ignored.push({ by: d.by, step, why: 'self_approval' });
        continue;
      }
      if (d.at > req.decideBy) {
        view.ignored.push({ by: d.by, step, why: 'too_late' });
        continue;
      }
      if (view.status !== 'pending') continue;
      if (step === 'denied') {
        view.status = 'denied';
        view.deniedBy = d.by;
        view.reason = d.reason;
      } else if (!view.approvers.some((a) => partyOf(a) === partyOf(d.by))) {
        view.approvers.push(d.by);
        if (view.approvers.length >= req.approversRequired) {
          view.status = 'granted';
          view.grantedAt = d.at;
          view.validUntil = req.mode === 'ticket' ? d.at + req.validSec * 1000 : null;
        }
      }
    }
    if (view.status === 'granted' && req.mode === 'ticket' && view.validUntil !== null) {
      for (const [nonce, c] of e.claims) {
        if (c.at > view.validUntil) continue;
        view.status = 'used';
        view.usedBy = { instance: c.by, nonce, at: c.at };
        break;
      }
    }
    if (e.end && (view.status === 'pending' || view.status === 'granted')) {
      view.status = e.end.step === 'used' ? 'used' : 'expired';
      view.reason = e.end.reason;
    } else if (view.status === 'pending' && now > req.decideBy) {
      view.status = 'expired';
      view.reason = 'no decision in time';
    } else if (view.status === 'granted' && view.validUntil !== null && now > view.validUntil) {
      view.status = 'expired';
      view.reason = 'the granted ticket was not used in time';
    }
    return view;
  }

  /** Ids the book knows a request for. */
  ids(): string[] {
    return [...this.entries].filter(([, e]) => e.request?.request).map(([id]) => id);
  }

  size(): number {
    return this.entries.size;
  }

  /**
   * Forgets approvals settled (or abandoned) more than `keepMs` ago: bounded memory under a steady
   * stream. Returns every key the forgotten approvals had on the topic (request, each decision, the
   * end, each use claim), for the caller to tombstone: the compacted topic then drops them too,
   * instead of growing by an approval's records forever. Past its horizon an approval can no longer
   * be decided or used, so forgetting it changes no answer: a ticket presented later is unknown.
   */
  sweep(now: number, keepMs: number): string[] {
    const forgotten: string[] = [];
    for (const [id, e] of this.entries) {
      const req = e.request?.request;
      const last = Math.max(e.request?.at ?? 0, e.end?.at ?? 0, ...[...e.decisions.values()].map((d) => d.at), ...[...e.claims.values()].map((c) => c.at));
      const horizon = req ? Math.max(req.decideBy, last) + req.validSec * 1000 : last;
      if (horizon + keepMs >= now) continue;
      this.entries.delete(id);
      if (e.request) forgotten.push(`req:${id}`);
      for (const by of e.decisions.keys()) forgotten.push(`dec:${id}:${by}`);
      if (e.end) forgotten.push(`end:${id}`);
      for (const nonce of e.claims.keys()) forgotten.push(useClaimKey(id, nonce));
    }
    return forgotten;
  }
}

export type DecisionCheck =
  | { ok: true; view: ApprovalView }
  | { ok: false; code: 'unknown_approval' | 'self_approval' | 'already_decided' | 'not_pending'; detail: string; view?: ApprovalView };

/** Whether `approver` may decide approval `id` now (what the CLI and the callback check before writing a decision). */
export function checkDecision(book: ApprovalBook, id: string, approver: string, now: number): DecisionCheck {
  const view = book.get(id, now);
  if (!view) return { ok: false, code: 'unknown_approval', detail: `no approval ${id}` };
  if (partyOf(approver) === partyOf(view.request.requester))
    return { ok: false, code: 'self_approval', detail: 'a requester cannot decide their own request', view };
  if (view.status !== 'pending') return { ok: false, code: 'not_pending', detail: `approval ${id} is ${view.status}`, view };
  if (view.approvers.some((a) => partyOf(a) === partyOf(approver)))
    return { ok: false, code: 'already_decided', detail: `${approver} already approved ${id}; another approver is needed`, view };
  return { ok: true, view };
}
