import { newId, type Actor, type Alert, type ApprovalInfo, type AuditEvent, type Source } from '@jwt-audit/events';
import type { ApprovalView } from './approval-state.js';
import { baseEvent, type Exchange } from './exchange-events.js';

/**
 * The audit events of an approval's steps and the alert that notifies approvers. No I/O. Each
 * event carries the requester, the approvers, the request fingerprint and the reason; the
 * request's method and path ride in http.request when the step happened at the edge (requested,
 * used, expired), never its body.
 */

export type ApprovalEventKind = 'approval.requested' | 'approval.granted' | 'approval.denied' | 'approval.expired' | 'approval.used';

export function approvalInfo(view: ApprovalView, reason: string | null): ApprovalInfo {
  return {
    id: view.id,
    fingerprint: view.request.fingerprint,
    requester: view.request.requester,
    approvers: view.deniedBy && !view.approvers.includes(view.deniedBy) ? [...view.approvers, view.deniedBy] : [...view.approvers],
    approversRequired: view.request.approversRequired,
    reason,
    mode: view.request.mode,
    rule: view.request.rule,
    expiresAt: view.status === 'granted' || view.status === 'used' ? view.validUntil : view.request.decideBy,
  };
}

export function approvalEvent(
  kind: ApprovalEventKind,
  view: ApprovalView,
  o: { source: Source; actor: Actor; at: number; reason: string | null; exchange?: Exchange; via?: string },
): AuditEvent {
  const outcome = kind === 'approval.denied' || kind === 'approval.expired' ? 'failure' : 'success';
  const e = baseEvent(kind, o.source, o.at, Date.now(), outcome, o.actor);
  if (o.exchange) {
    e.http = { request: { ...o.exchange.request, body: null }, response: null };
    e.network = o.exchange.network;
    e.trace = o.exchange.trace;
  } else {
    e.http = null;
  }
  e.approval = approvalInfo(view, o.reason);
  e.attributes = {
    'approval.state': view.status,
    'approval.route': view.request.route.slice(0, 256),
    'approval.method': view.request.method,
    'approval.path': view.request.path.slice(0, 2048),
    ...(o.via ? { 'approval.via': o.via } : {}),
  };
  return e;
}

/** audit.alerts.v1 carries approval.requested, so every alert consumer (the webhook forwarder, a chat tool) can ask approvers. */
export function approvalRequestedAlert(
  view: ApprovalView,
  o: { eventId: string; actor: Actor; clientIp: string | null; at: number; reason: string | null },
): Alert {
  const r = view.request;
  return {
    id: newId(),
    schemaVersion: 1,
    rule: 'approval.requested',
    severity: 'high',
    keys: { subject: r.requester, jti: null, ip: o.clientIp, clientId: o.actor.clientId, familyId: null, sessionId: null },
    window: { sizeMs: 0, start: o.at, end: o.at },
    count: 1,
    suppressed: 0,
    firstSeen: o.at,
    lastSeen: o.at,
    raisedAt: o.at,
    evidence: [o.eventId],
    description: `${r.requester} asks for approval of ${r.method} ${r.path} (rule ${r.rule}${o.reason ? `: ${o.reason}` : ''}); ${r.approversRequired} approver${r.approversRequired > 1 ? 's' : ''} needed by ${new Date(r.decideBy).toISOString()}: audit approve ${view.id}`,
    attributes: {
      'approval.id': view.id,
      'approval.fingerprint': r.fingerprint,
      'approval.requester': r.requester,
      'approval.mode': r.mode,
      'approval.rule': r.rule,
      'approval.route': r.route.slice(0, 256),
      'approval.method': r.method,
      'approval.path': r.path.slice(0, 2048),
      'approval.approversRequired': String(r.approversRequired),
      'approval.decideBy': String(r.decideBy),
      ...(o.reason ? { 'approval.reason': o.reason } : {}),
    },
  };
}
