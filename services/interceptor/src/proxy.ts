import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { Pool, type Dispatcher } from 'undici';
import type { Verifier } from '@jwt-audit/jwt';
import type { ErrorDefinition, Logger } from '@jwt-audit/runtime';
import { headerString, type Engine, type RequestContext } from './engine.js';
import { failureEvent, upstreamFailure, type FailureReason } from './exchange-failure.js';
import { INTERCEPTOR_ERRORS } from './errors.js';
import { problem, PROBLEMS, sendDecision, sendProblem, type Problem } from './problem.js';
import { parseResponseHeaders, writableResponseHeaders } from './response-headers.js';
import {
  actorOf,
  APPROVAL_HEADER,
  approvalRuleFor,
  candidateRules,
  corsResponseHeaders,
  FamilyTracker,
  observeTokenEndpoint,
  parseApprovalHeader,
  preflightOf,
  requestFingerprint,
  sha256Hex,
  type Resolution,
  type Route,
  type Router,
} from '@jwt-audit/edge';
import type { ApprovalGate } from './approvals.js';

/**
 * The reverse proxy: node:http on the client side, undici to the upstreams (one keep-alive pool
 * per origin; measured 12-17 µs less event-loop CPU per request than node:http's client and
 * agent, whose per-request ClientRequest, socket bookkeeping and listeners were a visible share
 * of a proxied request). Not a proxy library: the interceptor has to see every byte anyway (body
 * capture with a cap, token endpoint parsing), decide before the upstream is contacted, and
 * control hop-by-hop and trace headers; a proxy library would be hooks around the same lines.
 */
export interface ProxyOptions {
  engine: Engine;
  router: Router;
  verifier: Verifier;
  logger: Logger;
  upstreamTimeoutMs: number;
  maxRequestBodyBytes: number;
  /** Handles the ingest API path, when enabled. */
  ingest?: { path: string; handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> };
  /** Routes' approval rules are enforced through this (approvals.ts); without it they are not (middleware). */
  approvals?: ApprovalGate;
  /** Handles signed approval decisions (approval-callback.ts), when a key is configured. */
  approvalCallback?: { path: string; handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> };
}

export interface ProxyHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Closes the upstream connection pools (once the server no longer takes requests). */
  close(): Promise<void>;
  /** node's 'connect' (a CONNECT request, which never reaches the request handler): answered 405 and audited as any refused method, then the connection is closed. */
  connect(req: IncomingMessage, socket: Duplex): void;
  /** node's clientError on a socket: ends the exchange in flight there, if any, with `status` (client-errors.ts). */
  clientError(socket: Socket, reason: FailureReason, status: number, err: Error): { handled: boolean; served: boolean };
}

export function createProxyHandler(o: ProxyOptions): ProxyHandler {
  // one keep-alive connection pool per upstream origin
  const pools = new Map<string, Pool>();
  const poolFor = (upstream: URL): Pool => {
    let pool = pools.get(upstream.origin);
    if (!pool)
      pools.set(
        upstream.origin,
        (pool = new Pool(upstream.origin, { connections: 512, headersTimeout: o.upstreamTimeoutMs, bodyTimeout: o.upstreamTimeoutMs })),
      );
    return pool;
  };
  const families = new FamilyTracker();
  const log = o.logger.child({ component: 'proxy' });
  const metrics = o.engine.o.metrics;

  /**
   * Ends one exchange that failed, whatever failed: the client gets a problem document (or, once
   * the head went out, a cut connection), the exchange its event with the reason, the operator a
   * log line and a metric. Nothing here may throw past this exchange.
   */
  const fail = (req: IncomingMessage, res: ServerResponse, state: ExchangeState, status: number, reason: FailureReason, err: unknown): void => {
    try {
      metrics.exchangeError(reason);
      const detail = err instanceof Error ? err.message : String(err);
      if (reason === 'internal') log.error({ err, route: state.ctx?.routeName }, 'exchange failed');
      else if (reason.startsWith('upstream_')) log.warn({ route: state.ctx?.routeName, reason, err: detail }, 'upstream exchange failed');
      else log.info({ route: state.ctx?.routeName, reason }, 'request refused mid-exchange');
      if (!res.headersSent && !res.destroyed) sendProblem(res, failureProblem(status), status === 408 || status === 400 ? { connection: 'close' } : {});
      else res.destroy();
      if (state.ctx && state.finish) {
        state.ctx.attributes = { ...state.ctx.attributes, 'proxy.error': reason };
        state.finish(res.headersSent ? res.statusCode : status, res.getHeaders());
        return;
      }
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      o.engine.publish([
        failureEvent(
          {
            startedAt: state.startedAt,
            method: req.method ?? '',
            path: q >= 0 ? url.slice(0, q) : url,
            query: q >= 0 ? url.slice(q + 1) : null,
            host: headerString(req.headers.host) ?? '',
            scheme: req.socket instanceof TLSSocket ? 'https' : 'http',
            requestId: headerString(req.headers['x-request-id']) ?? null,
            clientIp: req.socket.remoteAddress ?? null,
            userAgent: headerString(req.headers['user-agent']) ?? null,
          },
          status,
          reason,
          o.engine.o.source,
        ),
      ]);
    } catch (again) {
      log.error({ err: again }, 'failed to end a failed exchange');
      res.destroy();
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, state: ExchangeState): Promise<void> => {
    // RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 (the server leaves it to this handler, to audit it)
    if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
      req.resume();
      return fail(req, res, state, 400, 'malformed_request', INTERCEPTOR_ERRORS.AUDIT_ERR_PROXY_REQUEST.create('no Host header'));
    }
    const target = o.router.resolve(req.method ?? 'GET', req.url ?? '/', preflightOf(req.method, req.headers));
    if (o.ingest && target.path === o.ingest.path && (target.refusal === null || target.refusal.status !== 400)) return o.ingest.handler(req, res);
    if (o.approvalCallback && target.path === o.approvalCallback.path && (target.refusal === null || target.refusal.status !== 400))
      return o.approvalCallback.handler(req, res);
    const ctx = await o.engine.begin(req, target);
    let finished = false;
    const finish = (status: number, headers: Record<string, string | string[] | number | undefined>, extra: Parameters<Engine['finish']>[3] = []) => {
      if (finished) return;
      finished = true;
      o.engine.finish(ctx, status, headers, extra);
    };
    state.ctx = ctx;
    state.finish = finish;

    // a refused target (400 / 404 / 405 / 501), a refused token and a preflight answered here alike: the decision says so
    if (!ctx.decision.allow) {
      req.resume();
      sendDecision(res, ctx.decision);
      finish(ctx.decision.status, res.getHeaders());
      return;
    }
    const route = target.route;
    if (!route?.upstream) {
      // only a middleware-mode route has no upstream; compileRoutes requires one for the proxy
      req.resume();
      sendProblem(res, problem(PROBLEMS.AUDIT_ERR_HTTP_NO_ROUTE, 'no route matches this path'));
      finish(404, res.getHeaders());
      return;
    }
    if (o.approvals && route.approvals.length > 0 && ctx.mode === 'enforce' && ctx.auth.kind === 'verified' && ctx.auth.outcome.ok) {
      const candidates = candidateRules(route.approvals, target.method, target.path, ctx.auth.outcome.claims);
      if (candidates.length > 0) return approve(req, res, route, route.upstream, target, ctx, finish, state, candidates, o.approvals);
    }
    forward(req, res, route, route.upstream, target, ctx, finish, state);
  };

  /** Reads a whole request body (up to the cap) before anything is decided: the approval is for exactly these bytes. */
  const readWhole = (req: IncomingMessage): Promise<Buffer | 'too_large'> =>
    new Promise((resolve, reject) => {
      if (Number(req.headers['content-length'] ?? 0) > o.maxRequestBodyBytes) return resolve('too_large');
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (c: Buffer) => {
        size += c.length;
        if (size > o.maxRequestBodyBytes) {
          req.off('data', onData);
          req.resume();
          resolve('too_large');
        } else chunks.push(c);
      };
      req.on('data', onData);
      req.once('end', () => resolve(Buffer.concat(chunks)));
      req.once('error', reject);
    });

  /**
   * A request one of the route's approval rules may cover: the body is read whole, the rule's
   * body condition checked, and then (approvals.ts) a ticket is asked for or checked, or the
   * request is held until someone decides.
   */
  const approve = async (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    upstream: URL,
    target: Resolution,
    ctx: RequestContext,
    finish: Finish,
    state: ExchangeState,
    candidates: ReturnType<typeof candidateRules>,
    gate: ApprovalGate,
  ) => {
    const refuse = (type: ErrorDefinition, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
      req.resume();
      const p = problem(type, detail, extra);
      sendProblem(res, p, headers);
      finish(p.status, res.getHeaders());
    };
    const body = await readWhole(req);
    if (body === 'too_large') {
      res.setHeader('connection', 'close');
      return refuse(PROBLEMS.AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE, `the request body exceeds ${o.maxRequestBodyBytes} bytes`);
    }
    ctx.requestBody?.push(body);
    const rule = approvalRuleFor(candidates, body);
    if (!rule) return forward(req, res, route, upstream, target, ctx, finish, state, body);
    const actor = actorOf(ctx.auth);
    const sub = actor.sub;
    if (!sub) return refuse(PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_REQUIRED, 'a request that needs approval needs a subject (sub) to hold to account');
    const fingerprint = requestFingerprint({ method: target.method, path: target.path, query: target.query, bodySha256: sha256Hex(body), subject: sub });
    const who = { ...actor, sub };
    const mark = (id: string, step: string) => (ctx.attributes = { ...ctx.attributes, 'approval.id': id, 'approval.state': step, 'approval.rule': rule.name });
    if (rule.mode === 'ticket') {
      const header = parseApprovalHeader(req.headers[APPROVAL_HEADER]);
      if (header.kind === 'malformed') {
        ctx.attributes = { ...ctx.attributes, 'approval.refusal': 'malformed_header' };
        return refuse(PROBLEMS.AUDIT_ERR_HTTP_BAD_APPROVAL_HEADER, header.detail, { reason: 'malformed_header' });
      }
      if (header.kind === 'none') {
        const view = gate.request({ rule, routeName: route.name, fingerprint, actor: who, exchange: ctx.exchange });
        mark(view.id, 'requested');
        return refuse(
          PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_REQUIRED,
          `this request needs approval (${rule.name}); once approved, send exactly the same request again with Audit-Approval: ${view.id}`,
          {
            reason: 'approval_required',
            approvalId: view.id,
            approvalStatus: 'pending',
            approversRequired: rule.approvers,
            decideBy: new Date(view.request.decideBy).toISOString(),
            validSec: rule.validSec,
          },
          { 'audit-approval': view.id },
        );
      }
      const r = await gate.use(header.id, sub, fingerprint, { actor: who, exchange: ctx.exchange });
      if (!r.ok) {
        ctx.attributes = { ...ctx.attributes, 'approval.id': header.id, 'approval.refusal': r.code };
        return refuse(PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_REFUSED, r.detail, {
          reason: r.code,
          approvalId: header.id,
          ...(r.view && r.code !== 'wrong_subject' ? { approvalStatus: r.view.status } : {}),
        });
      }
      mark(r.view.id, 'used');
      return forward(req, res, route, upstream, target, ctx, finish, state, body);
    }
    // hold: the client waits; a client that leaves ends the wait (and the approval)
    const view = gate.request({ rule, routeName: route.name, fingerprint, actor: who, exchange: ctx.exchange });
    mark(view.id, 'requested');
    const gone = new AbortController();
    const onClose = () => gone.abort();
    res.once('close', onClose);
    const decided = await gate.wait(view.id, rule.holdSec * 1000, gone.signal);
    res.off('close', onClose);
    // the fold calls an approval past its deadline expired; the edge holding it writes that down (and audits it)
    const undecided = decided.status === 'pending' || (decided.status === 'expired' && decided.reason === 'no decision in time');
    if (gone.signal.aborted && undecided) {
      gate.end(decided, 'expired', { reason: 'the client went away while held', actor: who, exchange: ctx.exchange });
      mark(view.id, 'expired');
      finish(499, res.getHeaders());
      return;
    }
    if (decided.status === 'granted') {
      gate.end(decided, 'used', { reason: null, actor: who, exchange: ctx.exchange });
      mark(view.id, 'used');
      return forward(req, res, route, upstream, target, ctx, finish, state, body);
    }
    if (decided.status === 'denied') {
      mark(view.id, 'denied');
      return refuse(PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_DENIED, `denied by ${decided.deniedBy}${decided.reason ? `: ${decided.reason}` : ''}`, {
        reason: 'approval_denied',
        approvalId: view.id,
        approvalStatus: 'denied',
      });
    }
    if (undecided) gate.end(decided, 'expired', { reason: `no decision within holdSec (${rule.holdSec} s)`, actor: who, exchange: ctx.exchange });
    mark(view.id, 'expired');
    return refuse(
      PROBLEMS.AUDIT_ERR_HTTP_APPROVAL_TIMEOUT,
      `no approver decided within ${rule.holdSec} s`,
      { reason: 'approval_timeout', approvalId: view.id, approvalStatus: 'expired' },
      { connection: 'close' },
    );
  };

  /**
   * One forwarded request's upstream side, as undici's dispatch handler: the head is judged and
   * rewritten (writableResponseHeaders) when it arrives and written to the client with the first
   * body byte (or the end), not before, so a body that fails before its first byte (a bad chunk
   * size, a close) still gets a problem document and a head node refuses ends this exchange only.
   * Body chunks go straight to `res`, with backpressure: onData answers false while `res` is
   * full, and its 'drain' resumes undici's parser.
   */
  class UpstreamExchange implements Dispatcher.DispatchHandlers {
    private abortUpstream: ((err?: Error) => void) | null = null;
    /** By this proxy (413, 408) or the client left: the upstream's outcome no longer matters. */
    private answered = false;
    /** The response is being dropped (the client is gone, or this exchange already failed). */
    private discarding = false;
    private status = 0;
    /** The final head's headers as the client gets them; null until it arrived. */
    private headers: Record<string, string | string[]> | null = null;
    private headWritten = false;

    constructor(
      private readonly req: IncomingMessage,
      private readonly res: ServerResponse,
      private readonly route: Route,
      private readonly ctx: RequestContext,
      private readonly finish: Finish,
      private readonly state: ExchangeState,
    ) {}

    /** Cancels the upstream request (a no-op once it completed): this proxy answers the client itself, or the client left. */
    cancel(): void {
      this.answered = true;
      this.abortUpstream?.();
    }

    onConnect(abort: (err?: Error) => void): void {
      if (this.answered) return abort();
      this.abortUpstream = abort;
    }

    onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
      // interim (1xx) heads are not passed on, as undici's request() did not
      if (statusCode < 200 || this.discarding) return true;
      try {
        this.head(statusCode, rawHeaders, resume);
      } catch (err) {
        this.drop();
        fail(this.req, this.res, this.state, 500, 'internal', err);
      }
      return true;
    }

    private head(status: number, rawHeaders: Buffer[], resume: () => void): void {
      const { req, res, route, ctx } = this;
      if (res.destroyed) return this.drop();
      // a final status node cannot write: the upstream is broken
      if (status > 599) {
        this.drop();
        return fail(req, res, this.state, 502, 'upstream_invalid_status', INTERCEPTOR_ERRORS.AUDIT_ERR_UPSTREAM_STATUS.create(status));
      }
      const { headers, dropped, droppedCount } = writableResponseHeaders(parseResponseHeaders(rawHeaders));
      // a route whose preflights the edge answers: the actual response tells the browser too (unless the upstream already did)
      const cors = route.preflight === 'answer' ? corsResponseHeaders(route, req.headers.origin) : null;
      if (cors && headers['access-control-allow-origin'] === undefined) Object.assign(headers, cors);
      if (droppedCount > 0) {
        metrics.droppedResponseHeaders(droppedCount);
        ctx.attributes = { ...ctx.attributes, 'proxy.droppedHeaders': dropped.join(','), 'proxy.droppedHeaderCount': String(droppedCount) };
        log.warn({ route: route.name, dropped, count: droppedCount }, 'dropped upstream response headers node cannot write');
      }
      this.status = status;
      this.headers = headers;
      // not from inside the 'drain': node emits it synchronously when a pipelined response gets
      // its socket, which can be inside another upstream connection's parser callback (res.end()
      // in its onComplete), where undici's resume() asserts no parser is running and throws
      res.on('drain', () => queueMicrotask(resume));
    }

    onData(chunk: Buffer): boolean {
      if (this.discarding || this.headers === null) return true;
      this.ctx.responseBody?.push(chunk);
      if (!this.writeHead()) return true;
      return this.res.write(chunk);
    }

    onComplete(): void {
      if (this.discarding || this.headers === null) return;
      if (this.writeHead()) this.res.end();
    }

    onError(err: Error): void {
      if (this.discarding) return;
      if (this.headers === null) {
        // no response: 502 / 504, after the current call returns (as request()'s rejection did:
        // undici reports a request it refuses, a bad header value say, inside dispatch())
        queueMicrotask(() => {
          if (this.answered || this.res.headersSent) return;
          const reason = upstreamFailure(err);
          fail(this.req, this.res, this.state, reason === 'upstream_timeout' ? 504 : 502, reason, err);
        });
        return;
      }
      // the client left first (its 499 is recorded) or this proxy answered: the abort is no upstream failure
      if (this.res.destroyed || this.answered) return;
      // the upstream failed mid-body (reset, body timeout, a bad chunk): the client gets a
      // problem if nothing went out yet, a cut response otherwise
      const reason = upstreamFailure(err);
      fail(this.req, this.res, this.state, this.res.headersSent ? this.status : 502, reason === 'upstream_failed' ? 'upstream_body_error' : reason, err);
    }

    private writeHead(): boolean {
      if (this.headWritten) return true;
      this.headWritten = true;
      try {
        this.res.writeHead(this.status, this.headers!);
        // only the upstream's own response, once written, is observed when it ends: a problem
        // document sent in its place (a body that failed before its first byte, a 408 / 413) is
        // not a 200 from a token or revocation endpoint, and a cut response never emits 'finish'
        const { req, res, route, ctx, status, headers } = this;
        res.on('finish', () => {
          try {
            finished(req, route, ctx, status, headers!, this.finish);
          } catch (err) {
            fail(req, res, this.state, status, 'internal', err);
          }
        });
        return true;
      } catch (err) {
        this.drop();
        fail(this.req, this.res, this.state, 502, 'upstream_malformed_response', err);
        return false;
      }
    }

    /** Drops the rest of the upstream's response (and its connection, unless it already completed). */
    private drop(): void {
      this.discarding = true;
      // not from inside undici's parser callback: after it returns, as a body destroy() used to
      queueMicrotask(() => this.abortUpstream?.());
    }
  }

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    upstream: URL,
    target: Resolution,
    ctx: RequestContext,
    finish: Finish,
    state: ExchangeState,
    buffered?: Buffer,
  ) => {
    const tooLarge = () => {
      req.resume();
      res.setHeader('connection', 'close');
      sendProblem(res, problem(PROBLEMS.AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE, `the request body exceeds ${o.maxRequestBodyBytes} bytes`));
      finish(413, res.getHeaders());
    };
    const declared = buffered ? buffered.length : Number(req.headers['content-length'] ?? 0);
    if (declared > o.maxRequestBodyBytes) return tooLarge();

    const headers = o.engine.upstreamHeaders(req, ctx);
    headers.host = upstream.host;
    // the ticket is this edge's business: the upstream never sees it
    delete headers[APPROVAL_HEADER];
    // undici frames the body itself: with its declared length, or chunked when none was given
    const hasBody = buffered ? buffered.length > 0 : req.headers['transfer-encoding'] !== undefined || declared > 0;
    if (!hasBody) delete headers['content-length'];
    else if (buffered) headers['content-length'] = String(buffered.length);
    // the upstream's answer arrives through a dispatch handler (UpstreamExchange below), not
    // undici's request(): that API wraps every response in an AsyncResource, a body Readable and
    // a promise, which this proxy only turned back into writes on `res`
    const up = new UpstreamExchange(req, res, route, ctx, finish, state);
    state.abortUpstream = () => up.cancel();

    // the body reaches undici as it pulls (an eager 'data' listener would drop what flows before
    // undici has a connection), counted against the cap and captured on the way
    const body = buffered
      ? hasBody
        ? buffered
        : null
      : hasBody
        ? pullBody(req, ctx, () => {
            up.cancel();
            tooLarge();
          })
        : null;
    if (!hasBody && !buffered) req.resume();

    res.on('close', () => {
      if (!res.writableFinished) {
        up.cancel();
        finish(499, res.getHeaders()); // client went away (nginx's 499)
      }
    });

    const base = upstream.pathname.endsWith('/') ? upstream.pathname.slice(0, -1) : upstream.pathname;
    // the upstream gets the path the route was judged on, never the client's spelling of it
    const path = base + target.path + (target.query === null ? '' : `?${target.query}`);
    poolFor(upstream).dispatch(
      // undici takes an async iterable body (lib/core/request.js isIterable); its types list only Readable
      {
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        path,
        headers: headers as Record<string, string | string[]>,
        body: body as unknown as Readable | null,
      },
      up,
    );
  };

  async function* pullBody(req: IncomingMessage, ctx: RequestContext, onTooLarge: () => void): AsyncGenerator<Buffer> {
    let received = 0;
    // destroyOnReturn: false: past the cap the rest is drained while the 413 is written
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > o.maxRequestBodyBytes) return onTooLarge();
      ctx.requestBody?.push(chunk);
      yield chunk;
    }
  }

  /** The response reached the client: the exchange's events (and a token endpoint's lifecycle events). */
  const finished = (req: IncomingMessage, route: Route, ctx: RequestContext, status: number, headers: Record<string, string | string[]>, finish: Finish) => {
    if (!route.tokenEndpoint) return finish(status, headers);
    observeTokenEndpoint(
      {
        kind: route.tokenEndpoint,
        exchange: ctx.exchange,
        requestBody: ctx.requestBody?.head() ?? Buffer.alloc(0),
        requestContentType: ctx.requestContentType,
        authorization: typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined,
        status,
        responseBody: ctx.responseBody?.head() ?? null,
      },
      o.engine.o.source,
      families,
      o.verifier,
    )
      .then(
        (observed) => {
          finish(status, headers, observed.events);
          if (observed.revocations.length > 0) o.engine.publish([], observed.revocations);
        },
        (err: unknown) => {
          log.warn({ err: (err as Error).message }, 'token endpoint observation failed');
          finish(status, headers);
        },
      )
      .catch((err: unknown) => log.error({ err }, 'recording a token endpoint exchange failed'));
  };

  // the latest exchange on each connection, for node's clientError (a slow or broken body arrives there)
  const exchanges = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse; state: ExchangeState }>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const state: ExchangeState = { startedAt: Date.now() };
    exchanges.set(req.socket, { req, res, state });
    handle(req, res, state).catch((err: unknown) => fail(req, res, state, 500, 'internal', err));
  };
  const close = async (): Promise<void> => {
    await Promise.all([...pools.values()].map((p) => p.destroy()));
  };
  const clientError = (socket: Socket, reason: FailureReason, status: number, err: Error): { handled: boolean; served: boolean } => {
    const x = exchanges.get(socket);
    if (!x) return { handled: false, served: false };
    if (x.res.writableFinished || x.res.destroyed) return { handled: false, served: true };
    // the exchange in flight answers: a slow body is a 408, a broken one a 400 (not the 499 of a client that left)
    x.state.abortUpstream?.();
    if (status === 0)
      socket.destroy(); // a reset: the response's close records the 499
    else {
      fail(x.req, x.res, x.state, status, reason, err);
      x.res.once('finish', () => socket.destroy());
    }
    return { handled: true, served: true };
  };
  const connect = (req: IncomingMessage, socket: Duplex): void => {
    // node has detached its parser and error handling from the socket: it is this exchange's alone
    socket.on('error', () => socket.destroy());
    // no response object comes with a CONNECT: one on its socket, so the refusal is written and
    // audited by the same path as every other (the router refuses CONNECT whatever the target)
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end(); // no tunnel: whatever the client sends next is not read
    });
    handler(req, res);
  };
  return Object.assign(handler, { close, clientError, connect });
}

type Finish = (status: number, headers: Record<string, string | string[] | number | undefined>, extra?: Parameters<Engine['finish']>[3]) => void;

/** What is known of one exchange, for ending it when something fails. */
interface ExchangeState {
  startedAt: number;
  ctx?: RequestContext;
  finish?: Finish;
  /** Set while an upstream request is out: cancels it (the client is answered by this proxy). */
  abortUpstream?: () => void;
}

function failureProblem(status: number): Problem {
  if (status === 400) return problem(PROBLEMS.AUDIT_ERR_HTTP_BAD_REQUEST, 'the request could not be parsed');
  if (status === 408) return problem(PROBLEMS.AUDIT_ERR_HTTP_REQUEST_TIMEOUT, 'the request did not arrive in time');
  if (status === 413) return problem(PROBLEMS.AUDIT_ERR_HTTP_PAYLOAD_TOO_LARGE);
  if (status === 431) return problem(PROBLEMS.AUDIT_ERR_HTTP_HEADER_FIELDS_TOO_LARGE);
  if (status === 504) return problem(PROBLEMS.AUDIT_ERR_HTTP_UPSTREAM_TIMEOUT, 'the upstream did not answer in time');
  if (status === 502) return problem(PROBLEMS.AUDIT_ERR_HTTP_BAD_GATEWAY, 'the upstream could not be reached or did not answer with valid HTTP');
  return problem(PROBLEMS.AUDIT_ERR_HTTP_INTERNAL);
}
