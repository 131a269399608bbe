import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { TLSSocket } from 'node:tls';
import { TOPICS, eventCodec, partitionKey, revocationCodec, type AuditEvent, type Revocation, type Source } from '@jwt-audit/events';
import { bearerToken, type Verifier } from '@jwt-audit/jwt';
import type { Logger } from '@jwt-audit/runtime';
import {
  actorOf,
  BodyRecorder,
  captureHeaders,
  decide,
  exchangeEvent,
  hopTrace,
  invalidForwardedFor,
  networkOf,
  normalizeIp,
  rejectionOf,
  resolvePolicy,
  sampled,
  secretHeaderSet,
  tokenEvent,
  type AuthResult,
  type CapturePolicy,
  type CaptureRule,
  type Decision,
  type Exchange,
  type HopTrace,
  type Resolution,
  type Route,
  type SamplingRule,
  type SecretFingerprint,
  type TrustedProxies,
} from '@jwt-audit/edge';
import { forwardedNode, forwardedQuoted, isForwardingHeader, isSubjectHeader } from './identity-headers.js';
import type { Mode } from './config.js';
import type { InterceptorMetrics } from './metrics.js';
import { revocationKey, type RevocationState } from './revocations.js';
import type { SpoolRecord } from './spool.js';

/** Where events go: the publisher (or anything with the same two methods). */
export interface EventSink {
  enqueue(records: SpoolRecord[]): boolean;
  canAccept(): boolean;
}

export interface EngineOptions {
  verifier: Verifier;
  revocations: RevocationState;
  sink: EventSink;
  source: Source;
  mode: Mode;
  capture: CapturePolicy & { secretHeaders: string[]; rules: CaptureRule[]; sampling: SamplingRule[] };
  trusted: TrustedProxies;
  forwardSubjectHeader: string;
  realm?: string;
  /** Fingerprints secret header values (fingerprint-key.ts). */
  secretFingerprint: SecretFingerprint;
  metrics: InterceptorMetrics;
  logger: Logger;
}

/** Per-request state between the decision and the end of the response. */
export interface RequestContext {
  route: Route | null;
  routeName: string;
  mode: Mode;
  auth: AuthResult;
  decision: Decision;
  exchange: Exchange;
  policy: CapturePolicy;
  hop: HopTrace;
  started: bigint;
  requestBody: BodyRecorder | null;
  responseBody: BodyRecorder | null;
  requestContentType: string | null;
  /** What the exchange's event says beyond the exchange itself (a failure's reason, dropped headers); null when nothing. */
  attributes: Record<string, string> | null;
}

export function eventRecord(event: AuditEvent): SpoolRecord {
  const { value, headers } = eventCodec.encode(event);
  return { topic: TOPICS.raw, key: partitionKey(event), value, headers };
}

export function revocationRecord(r: Revocation): SpoolRecord {
  const { value, headers } = revocationCodec.encode(r);
  return { topic: TOPICS.revocations, key: revocationKey(r), value, headers };
}

/**
 * Not forwarded upstream: RFC 9110 7.6.1 hop-by-hop fields, the trace headers this hop rewrites,
 * and Expect (this hop answers 100-continue itself; the upstream client frames the body anew).
 */
const REQUEST_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'traceparent',
  'tracestate',
]);

/** The field names a Connection header lists (hop-by-hop too), beyond the usual keep-alive / close; undefined when none. */
export function connectionTokens(connection: string | undefined): string[] | undefined {
  if (!connection) return undefined;
  const names = connection
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '' && h !== 'keep-alive' && h !== 'close');
  return names.length > 0 ? names : undefined;
}

/** Lower-cased allow-list sets per capture policy, built once per policy object. */
const allowSets = new WeakMap<string[], Set<string>>();
function allowSet(headers: string[]): Set<string> {
  let set = allowSets.get(headers);
  if (!set) allowSets.set(headers, (set = new Set(headers.map((h) => h.toLowerCase()))));
  return set;
}

export function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class Engine {
  readonly allowHeaders: Set<string>;
  readonly secretHeaders: Set<string>;
  private readonly realm: string;
  private readonly canAccept: () => boolean;

  constructor(readonly o: EngineOptions) {
    this.allowHeaders = new Set(o.capture.headers.map((h) => h.toLowerCase()));
    this.secretHeaders = secretHeaderSet(o.capture.secretHeaders);
    this.realm = o.realm ?? 'api';
    this.canAccept = () => o.sink.canAccept();
  }

  /**
   * Authenticates a request and decides whether it may pass (enforce) or is only observed. `target`
   * is how the router judged it: its route, the scopes for its method, its canonical path, or why
   * it is refused before any token is looked at.
   */
  async begin(req: IncomingMessage, target: Resolution): Promise<RequestContext> {
    const startedAt = Date.now();
    const started = process.hrtime.bigint();
    const route = target.route;
    const mode = route?.mode ?? this.o.mode;
    const hop = hopTrace(req.headers.traceparent, req.headers.tracestate);

    let auth: AuthResult = { kind: 'none' };
    // a refused target and a genuine CORS preflight (which carries no credentials) are judged without a token
    if (target.refusal === null && target.preflight === null && (route === null || route.auth === 'jwt')) {
      const b = bearerToken(req.headers.authorization);
      if ('error' in b) auth = b.error === 'missing' ? { kind: 'missing' } : { kind: 'malformed-header' };
      else {
        const outcome = await this.o.verifier.verify(b.token, { requiredScopes: target.scopes as string[], revocations: this.o.revocations });
        auth = { kind: 'verified', token: b.token, outcome };
      }
      const ok = auth.kind === 'verified' && auth.outcome.ok;
      this.o.metrics.outcome(
        ok ? 'validated' : 'rejected',
        ok ? 'none' : auth.kind === 'verified' && !auth.outcome.ok ? auth.outcome.reason : auth.kind === 'missing' ? 'missing' : 'malformed',
      );
    }
    const actor = actorOf(auth);
    const policy = resolvePolicy(this.o.capture, route?.capture, this.o.capture.rules, actor.sub ? actor : null);
    const allow = policy.headers === this.o.capture.headers ? this.allowHeaders : allowSet(policy.headers);
    const host = headerString(req.headers.host) ?? '';
    const exchange: Exchange = {
      startedAt,
      request: {
        id: headerString(req.headers['x-request-id'])?.slice(0, 128) ?? null,
        method: (req.method ?? 'GET').slice(0, 16),
        scheme: req.socket instanceof TLSSocket ? 'https' : 'http',
        host: host.slice(0, 256),
        path: target.path.slice(0, 2048),
        route: route?.pattern ?? null,
        query: target.query === null ? null : target.query.slice(0, 2048),
        headers: captureHeaders(
          req.headers as Record<string, string | string[] | undefined>,
          allow,
          this.secretHeaders,
          this.o.secretFingerprint,
          auth.kind === 'verified' ? { token: auth.token, fingerprint: auth.outcome.fingerprint } : undefined,
        ),
        body: null,
      },
      response: null,
      network: networkOf(req.socket.remoteAddress, req.headers['x-forwarded-for'], headerString(req.headers['user-agent']), this.o.trusted),
      trace: hop.trace,
    };
    // the path as sent when it was not canonical, and why the router refused it: on every event
    // of the exchange (and never sampled away)
    let attributes: Record<string, string> | null = null;
    if (target.rawPath !== null || target.refusal !== null || target.preflight !== null) {
      attributes = {};
      if (target.rawPath !== null) attributes['url.original'] = target.rawPath.slice(0, 2048);
      if (target.refusal !== null) attributes['http.refusal'] = target.refusal.reason;
    }

    const decision = decide(auth, mode, target, { realm: this.realm, canAccept: this.canAccept });
    if (target.preflight !== null && attributes !== null) {
      // a preflight is an exchange without a token: what was asked and how the route treated it
      attributes['http.preflight'] = target.preflight.action;
      attributes['cors.origin'] = target.preflight.request.origin.slice(0, 256);
      attributes['cors.requestMethod'] = target.preflight.request.method.slice(0, 32);
      if (!decision.allow && decision.problem?.reason !== undefined) attributes['cors.refusal'] = String(decision.problem.reason);
    }
    const wantRequestBody = policy.bodies === 'request' || policy.bodies === 'both' || route?.tokenEndpoint != null;
    const wantResponseBody = policy.bodies === 'response' || policy.bodies === 'both' || route?.tokenEndpoint === 'token';
    const tokenCap = 64 * 1024;
    const ctx: RequestContext = {
      route,
      routeName: route?.name ?? 'unmatched',
      mode,
      auth,
      decision,
      exchange,
      policy,
      hop,
      started,
      requestBody: wantRequestBody ? new BodyRecorder(route?.tokenEndpoint ? Math.max(tokenCap, policy.maxBodyBytes) : policy.maxBodyBytes) : null,
      responseBody: wantResponseBody ? new BodyRecorder(route?.tokenEndpoint ? Math.max(tokenCap, policy.maxBodyBytes) : policy.maxBodyBytes) : null,
      requestContentType: headerString(req.headers['content-type'])?.slice(0, 128) ?? null,
      attributes,
    };
    const xffHeader = req.headers['x-forwarded-for'];
    if (xffHeader !== undefined) {
      // entries that are not IP addresses never reach an IP field (network.forwardedFor keeps only addresses): flagged
      const invalid = invalidForwardedFor(xffHeader);
      if (invalid > 0) {
        ctx.attributes = { ...ctx.attributes, 'network.invalidForwardedFor': String(invalid) };
        this.o.metrics.invalidForwardedFor(invalid);
      }
    }
    // a rejection is published at once; a success is recorded with its response (finish), where sampling may drop it
    if (rejectionOf(auth)) {
      const rejected = tokenEvent(exchange, auth, this.o.source, mode, Date.now())!;
      if (attributes) Object.assign(rejected.attributes, attributes);
      this.publish([rejected]);
    }
    return ctx;
  }

  /** Request headers for the upstream: hop-by-hop removed, forwarding and trace headers set. */
  upstreamHeaders(req: IncomingMessage, ctx: RequestContext): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    const listed = connectionTokens(headerString(req.headers.connection));
    const subjectHeader = this.o.forwardSubjectHeader.toLowerCase();
    const peer = normalizeIp(req.socket.remoteAddress) ?? '';
    // what a client says about where it came from is believed (and passed on) from a trusted proxy only
    const trustedPeer = peer !== '' && this.o.trusted.isTrusted(peer);
    for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) {
      if (v === undefined || REQUEST_HOP_BY_HOP.has(k) || listed?.includes(k)) continue;
      if (isSubjectHeader(k, subjectHeader) || (!trustedPeer && isForwardingHeader(k))) continue;
      out[k] = v;
    }
    const scheme = ctx.exchange.request.scheme;
    const host = headerString(req.headers.host);
    const xff = trustedPeer ? headerString(req.headers['x-forwarded-for']) : undefined;
    out['x-forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
    out['x-forwarded-proto'] = (trustedPeer && headerString(req.headers['x-forwarded-proto'])) || scheme;
    const forwardedHost = (trustedPeer && headerString(req.headers['x-forwarded-host'])) || host;
    if (forwardedHost) out['x-forwarded-host'] = forwardedHost;
    const clientIp = ctx.exchange.network?.clientIp ?? peer;
    if (!trustedPeer || !req.headers['x-real-ip']) out['x-real-ip'] = clientIp;
    const element = `for=${forwardedNode(peer)};proto=${scheme}${host ? `;host=${forwardedQuoted(host)}` : ''}`;
    const prior = trustedPeer ? headerString(req.headers.forwarded) : undefined;
    out.forwarded = prior ? `${prior}, ${element}` : element;
    out.traceparent = ctx.hop.outgoing.traceparent;
    if (ctx.hop.outgoing.tracestate) out.tracestate = ctx.hop.outgoing.tracestate;
    if (subjectHeader) {
      const sub = actorOf(ctx.auth).sub;
      if (sub && ctx.auth.kind === 'verified' && ctx.auth.outcome.ok) out[subjectHeader] = sub;
    }
    return out;
  }

  /** The response is complete (or failed): publish the exchange's events. */
  finish(ctx: RequestContext, status: number, headers: Record<string, string | string[] | number | undefined>, extra: AuditEvent[] = []): void {
    const seconds = Number(process.hrtime.bigint() - ctx.started) / 1e9;
    const contentType = (h: Record<string, unknown>, name = 'content-type') => {
      const v = h[name];
      return typeof v === 'string' ? v.slice(0, 128) : null;
    };
    const wantReq = ctx.policy.bodies === 'request' || ctx.policy.bodies === 'both';
    const wantRes = ctx.policy.bodies === 'response' || ctx.policy.bodies === 'both';
    if (ctx.requestBody && wantReq) ctx.exchange.request.body = ctx.requestBody.toBody(ctx.requestContentType);
    ctx.exchange.response = {
      status,
      headers: captureHeaders(
        headers,
        ctx.policy.headers === this.o.capture.headers ? this.allowHeaders : allowSet(ctx.policy.headers),
        this.secretHeaders,
        this.o.secretFingerprint,
      ),
      body: ctx.responseBody && wantRes ? ctx.responseBody.toBody(contentType(headers)) : null,
      latencyMs: seconds * 1000,
    };
    this.o.metrics.request(ctx.routeName, status, seconds);
    const events: AuditEvent[] = [];
    const valid = ctx.auth.kind === 'verified' && ctx.auth.outcome.ok;
    const rejected = ctx.auth.kind !== 'none' && !valid;
    // an exchange with something to say (a failure, dropped headers) is never sampled away
    const keep =
      rejected || status >= 400 || ctx.attributes !== null || sampled(this.o.capture.sampling, ctx.route?.name ?? null, ctx.exchange.request.path, status);
    if (keep) {
      const now = Date.now();
      // a valid token: one event for the exchange, token.validated with the response
      const e = valid ? tokenEvent(ctx.exchange, ctx.auth, this.o.source, ctx.mode, now)! : exchangeEvent(ctx.exchange, ctx.auth, this.o.source, now);
      if (ctx.attributes) Object.assign(e.attributes, ctx.attributes);
      events.push(e);
    }
    events.push(...extra);
    if (events.length > 0) this.publish(events);
  }

  publish(events: AuditEvent[], revocations: Revocation[] = []): boolean {
    const records: SpoolRecord[] = [];
    for (const e of events) {
      try {
        records.push(eventRecord(e));
      } catch (err) {
        // a bug, not bad input: every field is built by this service
        this.o.logger.error({ err, kind: e.kind }, 'built an invalid audit event');
      }
    }
    for (const r of revocations) {
      records.push(revocationRecord(r));
      this.o.revocations.apply(revocationKey(r), r); // enforced here at once, not only when the topic comes back
    }
    return this.o.sink.enqueue(records);
  }
}
