import { createHash } from 'node:crypto';
import { compilePattern } from './routes.js';

/**
 * Just-in-time approval: the pure parts (which request needs a person's sign-off, and which
 * request exactly was approved). The state (pending, granted ...) and the waiting live in the
 * interceptor; this file takes data and returns data.
 *
 * A route lists `approvals` rules; the first rule whose methods, path, claims and body condition
 * all hold applies. Two modes:
 *   hold   - the request is held at the edge up to holdSec, forwarded once approved
 *            (403 denied, 408 no decision in time);
 *   ticket - answered 403 at once with an approval id; once approved, the same subject sends
 *            exactly the same request (method, canonical path, query, body SHA-256) again with
 *            `Audit-Approval: <id>`, and it passes once within validSec.
 *
 * The request fingerprint is SHA-256 over the JSON array
 *   ["jwt-audit/approval/v1", METHOD, canonical path, query or null, body SHA-256 hex, subject]
 * (JSON, so no field can run into the next; the body enters as its hash, so a fingerprint never
 * carries the body).
 */

export type ApprovalMode = 'hold' | 'ticket';

export interface ApprovalRuleConfig {
  /** Shown to approvers and in events; default "<route name>#<index>". */
  name?: string;
  /** Methods the rule covers (default: every method of the route). HEAD is judged as GET. */
  methods?: string[];
  /** A pattern inside the route's path, same syntax ("/api/admin/*", "/api/users/:id"); default: the route's whole path. */
  path?: string;
  /** All must hold: claim name -> a value or any of several; an array claim holds when it contains one; `scope` is space-separated. */
  claims?: Record<string, string | string[]>;
  /** A JSON body field above a threshold ("amount", "payment.amount"). */
  body?: { field: string; above: number };
  mode: ApprovalMode;
  /** hold: how long the request is held waiting for a decision (s). */
  holdSec?: number;
  /** ticket: how long approvers have to decide (s). */
  decideSec?: number;
  /** ticket: how long a granted ticket may be presented, once (s). */
  validSec?: number;
  /** Distinct approvers needed, none of them the requester. */
  approvers?: 1 | 2;
  /** Why this needs approval: shown to approvers. */
  reason?: string;
}

export interface ApprovalRule {
  name: string;
  mode: ApprovalMode;
  methods: ReadonlySet<string> | null;
  regex: RegExp | null;
  caseSensitive: boolean;
  strictTrailingSlash: boolean;
  claims: ReadonlyArray<readonly [string, readonly string[]]>;
  body: { field: readonly string[]; above: number } | null;
  holdSec: number;
  decideSec: number;
  validSec: number;
  approvers: 1 | 2;
  reason: string | null;
}

export const APPROVAL_DEFAULTS = {
  holdSec: 30, // 30 s: an interactive caller waits that long
  decideSec: 3_600, // 1 h for a ticket's approvers
  validSec: 300, // 5 min to use a granted ticket
} as const;

const FIELD_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

/** Compiles a route's approval rules; every problem is pushed to `problems` (named `routes.<i>.approvals.<j>`). */
export function compileApprovalRules(
  rules: ApprovalRuleConfig[] | undefined,
  route: { index: number; name: string; methods: ReadonlySet<string>; auth: 'jwt' | 'none'; caseSensitive: boolean; strictTrailingSlash: boolean },
  problems: string[],
): ApprovalRule[] {
  if (!rules || rules.length === 0) return [];
  const at = (j: number) => `routes.${route.index}.approvals.${j}`;
  if (route.auth === 'none') problems.push(`routes.${route.index}.approvals: a route without authentication has no requester to hold to account`);
  return rules.map((r, j): ApprovalRule => {
    const methods = r.methods ? new Set(r.methods.map((m) => (m.toUpperCase() === 'HEAD' ? 'GET' : m.toUpperCase()))) : null;
    for (const m of methods ?? []) if (!route.methods.has(m)) problems.push(`${at(j)}.methods: ${m} is not served by the route`);
    if (r.path !== undefined && !r.path.startsWith('/')) problems.push(`${at(j)}.path: must start with /`);
    const field = r.body ? r.body.field.split('.') : null;
    if (field && !field.every((s) => FIELD_SEGMENT.test(s) && s !== '__proto__' && s !== 'constructor' && s !== 'prototype'))
      problems.push(`${at(j)}.body.field: ${JSON.stringify(r.body!.field)} is not a dotted field name`);
    if (r.body && !Number.isFinite(r.body.above)) problems.push(`${at(j)}.body.above: a finite number`);
    if (r.mode === 'hold' && (r.decideSec !== undefined || r.validSec !== undefined))
      problems.push(`${at(j)}: decideSec and validSec are ticket settings (a held request is decided within holdSec)`);
    if (r.mode === 'ticket' && r.holdSec !== undefined) problems.push(`${at(j)}.holdSec: a hold setting (a ticket is decided within decideSec)`);
    const claims = Object.entries(r.claims ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v : [v]] as const);
    for (const [k, v] of claims) if (v.length === 0) problems.push(`${at(j)}.claims.${k}: at least one value`);
    return {
      name: r.name ?? `${route.name}#${j}`,
      mode: r.mode,
      methods,
      regex: r.path !== undefined ? compilePattern(r.path, { caseSensitive: route.caseSensitive, strictTrailingSlash: route.strictTrailingSlash }) : null,
      caseSensitive: route.caseSensitive,
      strictTrailingSlash: route.strictTrailingSlash,
      claims,
      body: r.body && field ? { field, above: r.body.above } : null,
      holdSec: r.holdSec ?? APPROVAL_DEFAULTS.holdSec,
      decideSec: r.decideSec ?? APPROVAL_DEFAULTS.decideSec,
      validSec: r.validSec ?? APPROVAL_DEFAULTS.validSec,
      approvers: r.approvers ?? 1,
      reason: r.reason ?? null,
    };
  });
}

function claimHolds(claims: Record<string, unknown>, name: string, wanted: readonly string[]): boolean {
  if (!Object.hasOwn(claims, name)) return false;
  const v = claims[name];
  const values = Array.isArray(v) ? v : name === 'scope' && typeof v === 'string' ? v.split(' ') : [v];
  return values.some((x) => (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') && wanted.includes(String(x)));
}

/** The string a rule's path pattern is tested against (as routes.ts matches routes). */
function matchKey(path: string, r: ApprovalRule): string {
  let k = r.caseSensitive ? path : path.toLowerCase();
  if (!r.strictTrailingSlash && k.length > 1 && k.endsWith('/')) k = k.slice(0, -1);
  return k;
}

/**
 * The rules that may apply before the body is read: method, path and claims hold. The caller
 * reads the body only when this is not empty (rules without a body condition need its hash too).
 */
export function candidateRules(rules: readonly ApprovalRule[], method: string, path: string, claims: Record<string, unknown>): ApprovalRule[] {
  if (rules.length === 0) return [];
  const judged = method === 'HEAD' ? 'GET' : method;
  return rules.filter(
    (r) =>
      (r.methods === null || r.methods.has(judged)) &&
      (r.regex === null || r.regex.test(matchKey(path, r))) &&
      r.claims.every(([k, v]) => claimHolds(claims, k, v)),
  );
}

/**
 * Whether a rule's body condition holds. Fail closed: a body the edge cannot read as the
 * upstream might (not JSON, a field that is an object, array, boolean or a non-numeric
 * string) needs approval; a numeric string is compared as its number (an upstream may coerce
 * it); a field that is absent or null does not.
 */
export function bodyConditionHolds(rule: ApprovalRule, body: Buffer): boolean {
  if (!rule.body) return true;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return true;
  }
  for (const seg of rule.body.field) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v !== null && v !== undefined;
    if (!Object.hasOwn(v, seg)) return false;
    v = (v as Record<string, unknown>)[seg];
  }
  if (v === null || v === undefined) return false;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (Number.isNaN(n)) return true;
  return n > rule.body.above;
}

/** The first rule whose every condition holds for this request, or null. */
export function approvalRuleFor(candidates: readonly ApprovalRule[], body: Buffer): ApprovalRule | null {
  for (const r of candidates) if (bodyConditionHolds(r, body)) return r;
  return null;
}

export interface FingerprintInput {
  method: string;
  path: string;
  query: string | null;
  /** Lower-case hex SHA-256 of the body bytes as received. */
  bodySha256: string;
  subject: string;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The exact request an approval is for (see the header comment). HEAD is fingerprinted as GET, as it is judged. */
export function requestFingerprint(i: FingerprintInput): string {
  const method = i.method === 'HEAD' ? 'GET' : i.method;
  return sha256Hex(JSON.stringify(['jwt-audit/approval/v1', method, i.path, i.query, i.bodySha256, i.subject]));
}

export const APPROVAL_HEADER = 'audit-approval';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type ApprovalHeader = { kind: 'none' } | { kind: 'id'; id: string } | { kind: 'malformed'; detail: string };

/**
 * The Audit-Approval header: exactly one UUID (any case; optional surrounding blanks, which
 * HTTP strips anyway). Sent twice (node joins repeats with ", "), empty, oversized or anything
 * else is malformed: a 400, never "no ticket", so a caller never gets a new approval by
 * mangling the one it has.
 */
export function parseApprovalHeader(v: string | string[] | undefined): ApprovalHeader {
  if (v === undefined) return { kind: 'none' };
  if (Array.isArray(v)) return v.length === 1 ? parseApprovalHeader(v[0]) : { kind: 'malformed', detail: 'Audit-Approval sent more than once' };
  if (v.length > 64) return { kind: 'malformed', detail: 'Audit-Approval is longer than an approval id' };
  const id = v.trim().toLowerCase();
  if (!UUID.test(id)) return { kind: 'malformed', detail: 'Audit-Approval is not an approval id (a UUID)' };
  return { kind: 'id', id };
}
