/**
 * The audit event model: exactly the shape avsc reads and writes for schemas/avro/audit-event.avsc
 * (nullable unions are plain `T | null`). Timestamps are epoch milliseconds, except the JWT
 * NumericDate claims iat/nbf/exp, which stay in seconds as in the token.
 */

export const EVENT_KINDS = [
  'token.issued',
  'token.refreshed',
  'token.validated',
  'token.rejected',
  'token.revoked',
  'session.started',
  'session.ended',
  'key.rotated',
  'subject.deprovisioned',
  'http.exchange',
  // who read the audit log: the console's searches, timelines, exports and proof downloads
  'audit.access',
  // schema v4: just-in-time approval of high-risk requests
  'approval.requested',
  'approval.granted',
  'approval.denied',
  'approval.expired',
  'approval.used',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const REJECTION_REASONS = [
  'missing',
  'malformed',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'alg_not_allowed',
  'unknown_kid',
  'revoked',
  'subject_deprovisioned',
  'insufficient_scope',
  // schema v3
  'non_canonical',
  'unknown_crit',
  'iat_in_future',
  'lifetime_too_long',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export type Outcome = 'success' | 'failure' | 'unknown';
export type TokenType = 'access' | 'refresh' | 'id' | 'unknown';

export interface Source {
  service: string;
  instance: string;
  environment: string;
}

export interface Actor {
  sub: string | null;
  clientId: string | null;
  tenant: string | null;
  roles: string[];
  scopes: string[];
}

export interface TokenInfo {
  jti: string | null;
  sid: string | null;
  iss: string | null;
  aud: string[];
  kid: string | null;
  alg: string | null;
  iat: number | null;
  nbf: number | null;
  exp: number | null;
  typ: TokenType;
  familyId: string | null;
  /** Lower-case hex SHA-256 of the token as presented. Never the token. */
  fingerprint: string;
  previousFingerprint: string | null;
}

export interface Rejection {
  reason: RejectionReason;
  detail: string | null;
}

export interface KeyRotation {
  jwksUrl: string | null;
  added: string[];
  removed: string[];
  current: string[];
}

export interface Session {
  id: string;
  reason: string | null;
}

export interface Body {
  contentType: string | null;
  size: number;
  truncated: boolean;
  content: string | null;
  sha256: string | null;
}

export interface HttpRequest {
  id: string | null;
  method: string;
  scheme: string;
  host: string;
  path: string;
  route: string | null;
  query: string | null;
  headers: Record<string, string>;
  body: Body | null;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Body | null;
  latencyMs: number;
}

export interface Http {
  request: HttpRequest;
  response: HttpResponse | null;
}

export interface Network {
  clientIp: string | null;
  forwardedFor: string[];
  userAgent: string | null;
}

export interface Trace {
  traceparent: string | null;
  tracestate: string | null;
  traceId: string | null;
  spanId: string | null;
}

export interface Masking {
  rulesApplied: string[];
  policyVersion: string | null;
  keyId: string | null;
}

export interface Geo {
  countryIso: string | null;
  country: string | null;
  city: string | null;
  lat: number | null;
  lon: number | null;
}

export interface Asn {
  number: number;
  org: string | null;
}

export interface UserAgentInfo {
  name: string | null;
  version: string | null;
  os: string | null;
  osVersion: string | null;
  device: string | null;
}

export interface AuthorizationCheck {
  requiredScopes: string[];
  missingScopes: string[];
  mismatch: boolean;
}

export interface Enrichment {
  geo: Geo | null;
  asn: Asn | null;
  userAgent: UserAgentInfo | null;
  ipClass: string | null;
  tokenAgeSec: number | null;
  tokenRemainingSec: number | null;
  lifetimeExceedsPolicy: boolean;
  authorization: AuthorizationCheck | null;
  sessionId: string | null;
  enrichedAt: number | null;
}

export type ApprovalMode = 'hold' | 'ticket';

/** An approval.* event's subject (schema v4). */
export interface ApprovalInfo {
  id: string;
  /** Lower-case hex SHA-256 over method, canonical path, query, body SHA-256 and subject. */
  fingerprint: string;
  requester: string;
  approvers: string[];
  approversRequired: number;
  reason: string | null;
  mode: ApprovalMode;
  rule: string | null;
  /** Decision deadline while pending; end of the ticket's validity once granted (epoch ms). */
  expiresAt: number | null;
}

export interface AuditEvent {
  /** UUIDv7; also the Elasticsearch _id. */
  id: string;
  schemaVersion: number;
  kind: EventKind;
  occurredAt: number;
  observedAt: number;
  source: Source;
  outcome: Outcome;
  actor: Actor;
  token: TokenInfo | null;
  rejection: Rejection | null;
  key: KeyRotation | null;
  session: Session | null;
  http: Http | null;
  network: Network | null;
  trace: Trace | null;
  masking: Masking | null;
  enrichment: Enrichment | null;
  attributes: Record<string, string>;
  /** Set on approval.* events (schema v4). */
  approval: ApprovalInfo | null;
}

export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface AlertKeys {
  subject: string | null;
  jti: string | null;
  ip: string | null;
  clientId: string | null;
  familyId: string | null;
  sessionId: string | null;
}

export interface Alert {
  id: string;
  schemaVersion: number;
  rule: string;
  severity: Severity;
  keys: AlertKeys;
  window: { sizeMs: number; start: number; end: number };
  count: number;
  suppressed: number;
  firstSeen: number;
  lastSeen: number;
  raisedAt: number;
  evidence: string[];
  description: string;
  attributes: Record<string, string>;
}

export interface Revocation {
  target: 'jti' | 'subject';
  value: string;
  revokedAt: number;
  expiresAt: number | null;
  reason: string | null;
  eventId: string | null;
}

export type ApprovalStep = 'requested' | 'granted' | 'denied' | 'used' | 'expired';

export interface ApprovalRequest {
  fingerprint: string;
  requester: string;
  clientId: string | null;
  rule: string;
  route: string;
  method: string;
  path: string;
  mode: ApprovalMode;
  approversRequired: number;
  decideBy: number;
  validSec: number;
  instance: string;
}

/** One step of an approval on audit.approvals.v1 (schemas/avro/approval.avsc). */
export interface ApprovalRecord {
  approvalId: string;
  schemaVersion: number;
  step: ApprovalStep;
  at: number;
  by: string;
  reason: string | null;
  request: ApprovalRequest | null;
}

export interface DeadLetter {
  id: string;
  stage: string;
  code: string;
  reason: string;
  originTopic: string;
  originPartition: number;
  originOffset: number;
  originKey: Buffer | null;
  originHeaders: Record<string, string>;
  payload: Buffer | null;
  failedAt: number;
}

/** How a session's events were grouped (schemas/avro/session.avsc). */
export type SessionBasis = 'sid' | 'family' | 'subject_client';
export const SESSION_END_REASONS = ['sign_out', 'revocation', 'token_expiry', 'idle_timeout', 'deprovisioning', 'evicted'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/** A session's summary on audit.sessions.v1 (compacted by id): the newest revision wins. */
export interface SessionSummary {
  id: string;
  schemaVersion: number;
  revision: number;
  basis: SessionBasis;
  sid: string | null;
  familyId: string | null;
  subject: string;
  clientId: string | null;
  tenant: string | null;
  explicitStart: boolean;
  startedAt: number;
  lastSeenAt: number;
  endedAt: number | null;
  durationMs: number;
  endReason: SessionEndReason | null;
  endDetail: string | null;
  tokenExpiresAt: number | null;
  ips: string[];
  ipsDropped: number;
  countries: string[];
  cities: string[];
  requests: number;
  routes: string[];
  routesDropped: number;
  bytesIn: number;
  bytesOut: number;
  rejections: number;
  alerts: number;
  alertRules: string[];
  approvals: number;
  afterEnd: number;
  events: number;
  updatedAt: number;
}
