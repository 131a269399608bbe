/**
 * AuditEvent / Alert -> Elasticsearch documents in Elastic Common Schema (ECS_VERSION, the one
 * Elasticsearch 8.12 ships) field names, so Kibana's security and log views work on them as they
 * are. Fields without an ECS home go under the one custom namespace `jwt_audit.*` (token claims
 * in `jwt_audit.token.*`, pipeline metadata and enrichment results beside them); no custom field
 * repeats an ECS one. Pure: the indexer adds `event.ingested` and `data_stream.namespace`
 * (withIndexTimes) to events and alerts alike. A value its mapped type would refuse is left out
 * and named in `jwt_audit.unindexable` (see Unindexable). packages/ecs/README.md lists the choices.
 */
import net from 'node:net';
import { SchemaValidationError, type Alert, type AuditEvent } from '@jwt-audit/events';

export const ECS_VERSION = '8.11.0';

/**
 * The data streams (`<type>-<dataset>-<namespace>`, Elastic's naming scheme: a dataset has no
 * hyphen). `event.module` / `event.dataset` / `data_stream.*` name the same thing.
 */
export const MODULE = 'jwt_audit';
export const DATA_STREAM_TYPE = 'logs';
export const EVENTS_DATASET = `${MODULE}.events`;
export const ALERTS_DATASET = `${MODULE}.alerts`;
export const SESSIONS_DATASET = `${MODULE}.sessions`;
/** Every events data stream (`logs-jwt_audit.events-*`), the default of searches. */
export const EVENTS_INDEX_PATTERN = `${DATA_STREAM_TYPE}-${EVENTS_DATASET}-*`;
export const ALERTS_INDEX_PATTERN = `${DATA_STREAM_TYPE}-${ALERTS_DATASET}-*`;
export const eventsDataStream = (namespace: string): string => `${DATA_STREAM_TYPE}-${EVENTS_DATASET}-${namespace}`;
export const alertsDataStream = (namespace: string): string => `${DATA_STREAM_TYPE}-${ALERTS_DATASET}-${namespace}`;

/** The widest instant Elasticsearch's default date format reads back (4-digit years): 0000-01-01 .. 9999-12-31. */
const MIN_DATE_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Values the mapped type would refuse are left out of the document (a refused value fails the whole
 * document, which would let whoever chose the value keep the event out of the index) and their ECS
 * field is named in `jwt_audit.unindexable`. The event itself stays in the archive as it was.
 */
class Unindexable {
  readonly fields: string[] = [];
  /** epoch ms -> ISO 8601, or undefined (and noted) when Elasticsearch could not read it back. */
  date(field: string, ms: number | null | undefined): string | undefined {
    if (ms === null || ms === undefined) return undefined;
    if (Number.isFinite(ms) && ms >= MIN_DATE_MS && ms <= MAX_DATE_MS) return new Date(ms).toISOString();
    this.fields.push(field);
    return undefined;
  }
  /** An IPv4/IPv6 address as an `ip` field takes it (no zone id), or undefined (noted). */
  ip(field: string, v: string | null | undefined): string | undefined {
    if (v === null || v === undefined) return undefined;
    if (isIndexableIp(v)) return v;
    this.fields.push(field);
    return undefined;
  }
  ips(field: string, vs: string[] | undefined): string[] | undefined {
    const ok = (vs ?? []).filter(isIndexableIp);
    if (ok.length < (vs ?? []).length) this.fields.push(field);
    return nonEmpty(ok);
  }
  /** A finite number; an integer within the safe range when `integer`. */
  num(field: string, v: number | null | undefined, integer = false): number | undefined {
    if (v === null || v === undefined) return undefined;
    if (integer ? Number.isSafeInteger(v) : Number.isFinite(v)) return v;
    this.fields.push(field);
    return undefined;
  }
}

/** What an Elasticsearch `ip` field accepts: a plain IPv4 or IPv6 literal (a `%zone` suffix is refused). */
export function isIndexableIp(v: string): boolean {
  return net.isIP(v) !== 0 && !v.includes('%');
}

/** A time of our own (occurredAt, observedAt, raisedAt ...) must be indexable: the event is refused naming the field. */
function ownDate(schema: string, field: string, ms: number): string {
  if (Number.isFinite(ms) && ms >= MIN_DATE_MS && ms <= MAX_DATE_MS) return new Date(ms).toISOString();
  throw new SchemaValidationError(schema, [{ field, message: `${ms} is outside the dates Elasticsearch can index (years 0000-9999)` }]);
}

const nonEmpty = <T>(a: T[] | undefined | null) => (a && a.length > 0 ? a : undefined);

/** `token.rejected` -> `token-rejected`: ECS actions are lower-case, hyphenated. */
export function ecsAction(kind: string): string {
  return kind.replace(/\./g, '-');
}

/**
 * event.category / event.type from ECS's allowed values: every type is one the ECS definition
 * expects for one of the categories, and every category gets one of its expected types
 * (authentication: start/end/info; web: access/error/info; iam: creation/deletion/change/info/user;
 * session: start/end/info). Success or failure is event.outcome, never a type ("allowed" and
 * "denied" belong to network and intrusion_detection). src/ecs-reference.test.ts checks every kind.
 */
export function categoryOf(kind: string, web: boolean, status?: number): { category: string[]; type: string[] } {
  // an exchange with its response is also a web access ("error" when the server failed)
  const webType = status !== undefined && status >= 500 ? ['access', 'error'] : ['access'];
  switch (kind) {
    case 'token.issued':
      return { category: ['authentication', 'iam'], type: ['start', 'creation'] };
    case 'token.refreshed':
      return { category: ['authentication', 'iam'], type: ['info', 'creation'] };
    case 'token.validated':
    case 'token.rejected':
      // the interceptor's token.validated / token.rejected is also the exchange's record (request and response)
      return web ? { category: ['authentication', 'web'], type: ['info', ...webType] } : { category: ['authentication'], type: ['info'] };
    case 'token.revoked':
      return { category: ['authentication', 'iam'], type: ['end', 'deletion'] };
    case 'session.started':
      return { category: ['session', 'authentication'], type: ['start'] };
    case 'session.ended':
      return { category: ['session', 'authentication'], type: ['end'] };
    case 'key.rotated':
      return { category: ['configuration', 'iam'], type: ['change'] };
    case 'subject.deprovisioned':
      return { category: ['iam'], type: ['user', 'deletion'] };
    case 'audit.access':
      // a person reading the audit log: ECS has no "audit" category; it is an access to data
      return { category: ['web'], type: ['access', 'info'] };
    // schema v4: just-in-time approval (a person's decision on one request)
    case 'approval.requested':
    case 'approval.expired':
      return { category: ['iam'], type: ['info'] };
    case 'approval.granted':
    case 'approval.denied':
      return { category: ['iam'], type: ['change'] };
    case 'approval.used':
      return { category: ['iam', 'web'], type: ['info', 'access'] };
    default:
      return { category: ['web', 'network'], type: webType };
  }
}

/** Host header -> ECS url.domain and url.port (`example.com:8443`, `[2001:db8::1]:8080`); a host without a valid port stays whole. */
export function splitHost(host: string): { domain: string; port?: number } {
  const m = /^(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(host);
  const port = m ? Number(m[2]) : undefined;
  if (!m || port === undefined || port > 65_535 || m[1] === '' || m[1] === '[]')
    return { domain: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host };
  const domain = m[1]!;
  return { domain: domain.startsWith('[') ? domain.slice(1, -1) : domain, port };
}

/** ECS related.*: every distinct value, in order of appearance, or undefined. */
const distinct = (xs: (string | null | undefined)[]): string[] | undefined =>
  nonEmpty([...new Set(xs.filter((x): x is string => typeof x === 'string' && x !== ''))]);

/**
 * Removes undefined values and empty objects, so documents carry only what is known. Once per
 * indexed document over every field: written with Object.keys and a for-in emptiness test rather
 * than Object.entries, whose pair arrays were most of the indexer's document-building time.
 */
export function compact<T>(v: T): T {
  if (Array.isArray(v)) return v.map(compact) as T;
  if (v === null || typeof v !== 'object') return v;
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src)) {
    const x = src[k];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'object') {
      out[k] = x;
      continue;
    }
    const c = compact(x);
    if (!Array.isArray(c) && isEmpty(c as object)) continue;
    out[k] = c;
  }
  return out as T;
}

/** Whether compact()'s result has no keys (it is a plain object: nothing enumerable is inherited). */
function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** A key set change says what changed, where (it has no actor: it was "key-rotated unknown"). */
function keyRotationMessage(k: NonNullable<AuditEvent['key']>): string {
  const list = (ids: string[]) => (ids.length > 0 ? ids.join(', ') : 'none');
  return `signing keys changed${k.jwksUrl ? ` at ${k.jwksUrl}` : ''}: added ${list(k.added)}; removed ${list(k.removed)}; ${k.current.length} current`;
}

export function toEcsDocument(e: AuditEvent): Record<string, unknown> {
  const { category, type } = categoryOf(e.kind, e.http?.response != null, e.http?.response?.status);
  const t = e.token;
  const req = e.http?.request;
  const res = e.http?.response;
  const en = e.enrichment;
  const action = ecsAction(e.kind);
  const u = new Unindexable();
  const timestamp = ownDate('audit event', 'occurredAt', e.occurredAt);
  const observed = ownDate('audit event', 'observedAt', e.observedAt);
  const clientIp = u.ip('source.ip', e.network?.clientIp);
  const forwardedFor = u.ips('jwt_audit.forwarded_for', e.network?.forwardedFor);
  const latencyMs = u.num('event.duration', res?.latencyMs);
  const host = req ? splitHost(req.host) : undefined;
  const geo = en?.geo;
  const location =
    geo && geo.lat !== null && geo.lon !== null && Math.abs(geo.lat) <= 90 && Math.abs(geo.lon) <= 180 ? { lat: geo.lat, lon: geo.lon } : undefined;
  if (geo && geo.lat !== null && geo.lon !== null && !location) u.fields.push('source.geo.location');
  const who = e.actor.sub ?? e.actor.clientId ?? e.network?.clientIp ?? 'unknown';
  const message =
    e.kind === 'token.rejected'
      ? `token rejected (${e.rejection?.reason ?? 'unknown'}) for ${who}${req ? ` on ${req.method} ${req.path}` : ''}`
      : e.kind === 'http.exchange' && req
        ? `${req.method} ${req.path} -> ${res?.status ?? '-'} by ${who}`
        : e.kind === 'token.validated' && req && res
          ? `${req.method} ${req.path} -> ${res.status} by ${who} (token valid)`
          : e.kind === 'key.rotated' && e.key
            ? keyRotationMessage(e.key)
            : e.kind === 'audit.access'
              ? `${who} ${e.attributes['access.action'] ?? 'read'} ${e.attributes['access.target'] ?? e.http?.request.path ?? ''} in the audit console`.trimEnd()
              : e.approval
                ? `${action} ${e.approval.id} requested by ${e.approval.requester}${e.approval.approvers.length > 0 ? `, approvers ${e.approval.approvers.join(', ')}` : ''}${req ? ` for ${req.method} ${req.path}` : ''}`
                : `${action} ${who}`;
  const doc = compact({
    '@timestamp': timestamp,
    message,
    ecs: { version: ECS_VERSION },
    data_stream: { type: DATA_STREAM_TYPE, dataset: EVENTS_DATASET },
    event: {
      id: e.id,
      kind: 'event',
      category,
      type,
      action,
      outcome: e.outcome,
      reason: e.rejection?.reason ?? e.session?.reason ?? e.approval?.reason ?? undefined,
      created: observed,
      dataset: EVENTS_DATASET,
      module: MODULE,
      // ECS event.duration is in nanoseconds
      duration: latencyMs === undefined ? undefined : u.num('event.duration', Math.round(latencyMs * 1e6), true),
    },
    // the sub is an identifier, not a name: user.name stays unset (no name claim reaches us)
    user: { id: e.actor.sub, roles: nonEmpty(e.actor.roles) },
    organization: e.actor.tenant ? { id: e.actor.tenant } : undefined,
    related: {
      user: distinct([e.actor.sub, e.approval?.requester, ...(e.approval?.approvers ?? [])]),
      ip: distinct([clientIp, ...(forwardedFor ?? [])]),
    },
    source: e.network?.clientIp
      ? {
          // ECS: the address as seen (any form); source.ip only when it is one
          address: e.network.clientIp,
          ip: clientIp,
          geo: en?.geo
            ? {
                country_iso_code: en.geo.countryIso,
                country_name: en.geo.country,
                city_name: en.geo.city,
                location,
              }
            : undefined,
          as: en?.asn ? { number: en.asn.number, organization: { name: en.asn.org } } : undefined,
        }
      : undefined,
    user_agent: e.network?.userAgent
      ? {
          original: e.network.userAgent,
          name: en?.userAgent?.name,
          version: en?.userAgent?.version,
          os: en?.userAgent ? { name: en.userAgent.os, version: en.userAgent.osVersion } : undefined,
          device: en?.userAgent?.device ? { name: en.userAgent.device } : undefined,
        }
      : undefined,
    http: req
      ? {
          request: {
            id: req.id,
            method: req.method,
            mime_type: req.body?.contentType,
            body: req.body ? { bytes: req.body.size, content: req.body.content } : undefined,
          },
          response: res
            ? { status_code: res.status, mime_type: res.body?.contentType, body: res.body ? { bytes: res.body.size, content: res.body.content } : undefined }
            : undefined,
        }
      : undefined,
    url: req ? { scheme: req.scheme, domain: host?.domain, port: host?.port, path: req.path, query: req.query } : undefined,
    trace: e.trace?.traceId ? { id: e.trace.traceId } : undefined,
    span: e.trace?.spanId ? { id: e.trace.spanId } : undefined,
    service: { name: e.source.service, environment: e.source.environment, node: { name: e.source.instance } },
    jwt_audit: {
      token:
        t || e.actor.clientId || nonEmpty(e.actor.scopes)
          ? {
              jti: t?.jti,
              sid: t?.sid,
              iss: t?.iss,
              aud: nonEmpty(t?.aud),
              kid: t?.kid,
              alg: t?.alg,
              typ: t?.typ,
              iat: u.date('jwt_audit.token.iat', secondsToMs(t?.iat)),
              nbf: u.date('jwt_audit.token.nbf', secondsToMs(t?.nbf)),
              exp: u.date('jwt_audit.token.exp', secondsToMs(t?.exp)),
              client_id: e.actor.clientId,
              family_id: t?.familyId,
              fingerprint: t?.fingerprint,
              previous_fingerprint: t?.previousFingerprint,
              scopes: nonEmpty(e.actor.scopes),
            }
          : undefined,
      schema_version: e.schemaVersion,
      enriched_at: u.date('jwt_audit.enriched_at', en?.enrichedAt),
      route: req?.route,
      forwarded_for: forwardedFor,
      masking: e.masking ? { rules: nonEmpty(e.masking.rulesApplied), policy_version: e.masking.policyVersion, key_id: e.masking.keyId } : undefined,
      token_age_sec: en?.tokenAgeSec,
      token_remaining_sec: en?.tokenRemainingSec,
      lifetime_exceeds_policy: en ? en.lifetimeExceedsPolicy : undefined,
      ip_class: en?.ipClass,
      session_id: en?.sessionId ?? e.session?.id ?? t?.sid,
      authorization: en?.authorization
        ? {
            required_scopes: nonEmpty(en.authorization.requiredScopes),
            missing_scopes: nonEmpty(en.authorization.missingScopes),
            mismatch: en.authorization.mismatch,
          }
        : undefined,
      key_rotation: e.key
        ? { jwks_url: e.key.jwksUrl, added: nonEmpty(e.key.added), removed: nonEmpty(e.key.removed), current: nonEmpty(e.key.current) }
        : undefined,
      // the session's reason is event.reason
      session: e.session ? { id: e.session.id } : undefined,
      approval: e.approval
        ? {
            id: e.approval.id,
            fingerprint: e.approval.fingerprint,
            requester: e.approval.requester,
            approvers: nonEmpty(e.approval.approvers),
            approvers_required: e.approval.approversRequired,
            // the approval's reason is event.reason
            mode: e.approval.mode,
            rule: e.approval.rule,
            expires_at: u.date('jwt_audit.approval.expires_at', e.approval.expiresAt),
          }
        : undefined,
      http: req
        ? {
            request_headers: Object.keys(req.headers).length ? req.headers : undefined,
            response_headers: res && Object.keys(res.headers).length ? res.headers : undefined,
            request_truncated: req.body?.truncated,
            response_truncated: res?.body?.truncated,
            request_sha256: req.body?.sha256,
            response_sha256: res?.body?.sha256,
          }
        : undefined,
      attributes: Object.keys(e.attributes).length ? e.attributes : undefined,
    },
  }) as Record<string, unknown>;
  return u.fields.length > 0 ? { ...doc, jwt_audit: { ...(doc.jwt_audit as object), unindexable: u.fields } } : doc;
}

const secondsToMs = (s: number | null | undefined) => (s === null || s === undefined ? undefined : s * 1000);

/** ECS event.severity: a number, higher is worse. */
export const SEVERITY_SCORE: Record<Alert['severity'], number> = { low: 21, medium: 47, high: 73, critical: 99 };

export function alertToEcsDocument(a: Alert): Record<string, unknown> {
  const u = new Unindexable();
  const raised = ownDate('alert', 'raisedAt', a.raisedAt);
  const ip = a.keys.ip ? u.ip('source.ip', a.keys.ip) : undefined;
  const doc = compact({
    '@timestamp': raised,
    message: a.description,
    ecs: { version: ECS_VERSION },
    data_stream: { type: DATA_STREAM_TYPE, dataset: ALERTS_DATASET },
    event: {
      id: a.id,
      kind: 'alert',
      // a detection over the audit stream: ECS's intrusion_detection (allowed/denied/info); threat
      // is for threat-intelligence indicators, which an alert is not
      category: ['intrusion_detection'],
      type: ['info'],
      action: a.rule,
      severity: SEVERITY_SCORE[a.severity],
      created: raised,
      start: ownDate('alert', 'firstSeen', a.firstSeen),
      end: ownDate('alert', 'lastSeen', a.lastSeen),
      dataset: ALERTS_DATASET,
      module: MODULE,
    },
    rule: { name: a.rule, id: a.rule },
    user: a.keys.subject ? { id: a.keys.subject } : undefined,
    source: a.keys.ip ? { address: a.keys.ip, ip } : undefined,
    related: { user: distinct([a.keys.subject]), ip: distinct([ip]) },
    jwt_audit: {
      token: { jti: a.keys.jti, client_id: a.keys.clientId, family_id: a.keys.familyId },
      schema_version: a.schemaVersion,
      alert: {
        severity: a.severity,
        count: a.count,
        suppressed: a.suppressed,
        window_ms: a.window.sizeMs,
        window_start: ownDate('alert', 'window.start', a.window.start),
        window_end: ownDate('alert', 'window.end', a.window.end),
        evidence: nonEmpty(a.evidence),
        session_id: a.keys.sessionId,
      },
      attributes: Object.keys(a.attributes).length ? a.attributes : undefined,
    },
  }) as Record<string, unknown>;
  return u.fields.length > 0 ? { ...doc, jwt_audit: { ...(doc.jwt_audit as object), unindexable: u.fields } } : doc;
}

/**
 * What the indexer adds when it writes a document, events, alerts and sessions alike: ECS
 * `event.ingested` (when it reached the index) and, for a data stream (events, alerts; not the
 * sessions index), `data_stream.namespace` (the stream's last part: `logs-jwt_audit.events-<namespace>`).
 */
export function withIndexTimes(doc: Record<string, unknown>, nowIso: string, namespace?: string): Record<string, unknown> {
  const d = doc as { event?: object; data_stream?: object };
  const out: Record<string, unknown> = { ...doc, event: { ...d.event, ingested: nowIso } };
  if (namespace !== undefined) out.data_stream = { ...d.data_stream, namespace };
  return out;
}
