import type { IncomingMessage, ServerResponse } from 'node:http';
import onFinished from 'on-finished';
import type { Actor } from '@jwt-audit/events';
import type { Claims } from '@jwt-audit/jwt';
import { actorOf, corsResponseHeaders, preflightOf, type Router } from '@jwt-audit/edge';
import type { Engine, RequestContext } from './engine.js';
import { stripSubjectHeader } from './identity-headers.js';
import { sendDecision } from './problem.js';

/**
 * The interceptor inside a Node server instead of in front of it. Three shapes, one behaviour:
 *   interceptHandler(core, handler)      wraps a node:http (req, res) handler
 *   expressMiddleware(core)              Express / Connect (req, res, next)
 *   fastifyPlugin(core)                  a Fastify plugin (onRequest hook on the raw request)
 * The request is authenticated before the application sees it; in enforce mode a bad token gets
 * 401/403 (RFC 6750) and the application is not called. The verified identity is on
 * `req.auth`. Bodies are captured as the application reads / writes them (no extra buffering).
 * Token endpoint observation needs the proxy (it reads the authorization server's responses).
 */

export interface AuthInfo {
  actor: Actor;
  claims: Claims | null;
  tokenFingerprint: string | null;
}

export interface InterceptorCore {
  readonly engine: Engine;
  readonly router: Router;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by the interceptor middleware: the verified identity (claims null when unauthenticated or observe-only failures). */
    auth?: AuthInfo;
  }
}

type HeaderMap = Record<string, string | string[] | number | undefined>;

/** writeHead's headers argument (an object, [name, value] pairs, or a flat name/value list) as a map. */
function headersArgument(h: unknown): HeaderMap {
  const out: HeaderMap = {};
  if (Array.isArray(h)) {
    const pairs: unknown[][] = Array.isArray(h[0]) ? (h as unknown[][]) : [];
    if (pairs.length === 0) for (let i = 0; i + 1 < h.length; i += 2) pairs.push([h[i], h[i + 1]]);
    for (const [k, v] of pairs) if (typeof k === 'string') out[k.toLowerCase()] = v as string | string[] | number;
  } else if (h && typeof h === 'object') {
    for (const [k, v] of Object.entries(h as HeaderMap)) out[k.toLowerCase()] = v;
  }
  return out;
}

/**
 * Headers given to writeHead() never reach res.getHeaders() (node's fast path, which Fastify
 * and plain handlers use), so they are remembered here for the event.
 */
function rememberHeadHeaders(res: ServerResponse): () => HeaderMap {
  let written: HeaderMap = {};
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    written = headersArgument(typeof rest[0] === 'string' ? rest[1] : rest[0]);
    return (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;
  return () => ({ ...res.getHeaders(), ...written });
}

function tap(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, done: () => void): void {
  if (ctx.requestBody) {
    const recorder = ctx.requestBody;
    const emit = req.emit;
    // observe 'data' as the application consumes it, without switching the stream to flowing mode
    req.emit = function (this: IncomingMessage, event: string | symbol, ...args: unknown[]) {
      if (event === 'data' && args[0] !== undefined) recorder.push(args[0] as Buffer);
      return emit.call(this, event, ...args);
    } as typeof req.emit;
  }
  if (ctx.responseBody) {
    const recorder = ctx.responseBody;
    const write = res.write;
    const end = res.end;
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') recorder.push(chunk as Buffer | string);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof res.write;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') recorder.push(chunk as Buffer | string);
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as typeof res.end;
  }
  // once, whichever comes first: the response finished, or its connection closed or failed under it
  onFinished(res, () => done());
}

/** The target as the client sent it, for requests whose req.url canonicalUrl rewrote. */
const sentUrls = new WeakMap<IncomingMessage, string>();

/** Runs the interceptor for one request; resolves true when the application should handle it. */
async function intercept(core: InterceptorCore, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  // judged on what the client sent (Fastify's rewriteUrl has replaced req.url by now)
  let target = core.router.resolve(req.method ?? 'GET', sentUrls.get(req) ?? req.url ?? '/', preflightOf(req.method, req.headers));
  // observe mode: a path no route covers is authenticated and recorded, not refused
  if (target.refusal?.reason === 'no_route' && core.engine.o.mode === 'observe') target = { ...target, refusal: null };
  // the application routes on the path the interceptor judged (node:http, Express; Fastify has
  // routed before onRequest: give it canonicalUrl as rewriteUrl)
  if (target.refusal === null || target.refusal.status !== 400) req.url = target.path + (target.query === null ? '' : `?${target.query}`);
  // as in proxy mode: the application reads the subject header from the interceptor only, never from the client
  const subjectHeader = core.engine.o.forwardSubjectHeader.toLowerCase();
  stripSubjectHeader(req.headers, req.rawHeaders, subjectHeader);
  const ctx = await core.engine.begin(req, target);
  const auth = ctx.auth;
  const sub = auth.kind === 'verified' && auth.outcome.ok ? actorOf(auth).sub : null;
  if (subjectHeader && sub) {
    req.headers[subjectHeader] = sub;
    req.rawHeaders.push(subjectHeader, sub);
  }
  req.auth = {
    actor: actorOf(auth),
    claims: auth.kind === 'verified' && auth.outcome.ok ? auth.outcome.claims : null,
    tokenFingerprint: auth.kind === 'verified' ? auth.outcome.fingerprint : null,
  };
  const responseHeaders = rememberHeadHeaders(res);
  tap(req, res, ctx, () => core.engine.finish(ctx, res.writableFinished ? res.statusCode : 499, responseHeaders()));
  if (!ctx.decision.allow) {
    req.resume();
    sendDecision(res, ctx.decision);
    return false;
  }
  // preflights answered here: the application's actual responses carry the CORS headers too
  const cors = target.route?.preflight === 'answer' ? corsResponseHeaders(target.route, req.headers.origin) : null;
  if (cors) for (const [k, v] of Object.entries(cors)) if (!res.hasHeader(k)) res.setHeader(k, v);
  return true;
}

export function interceptHandler(
  core: InterceptorCore,
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    intercept(core, req, res).then(
      (pass) => {
        if (pass) return handler(req, res);
      },
      (err: unknown) => {
        core.engine.o.logger.error({ err }, 'interceptor middleware failed');
        if (!res.headersSent) res.writeHead(500).end();
      },
    );
  };
}

export function expressMiddleware(core: InterceptorCore): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    intercept(core, req, res).then((pass) => {
      if (pass) next();
    }, next);
  };
}

/**
 * For Fastify's `rewriteUrl` option: Fastify routes before any hook runs, so the canonical path
 * has to be given to its router up front (`Fastify({ rewriteUrl: canonicalUrl(core) })`). A target
 * with no canonical form is left as sent; the onRequest hook refuses it.
 */
export function canonicalUrl(core: InterceptorCore): (req: IncomingMessage) => string {
  return (req) => {
    sentUrls.set(req, req.url ?? '/');
    const t = core.router.resolve(req.method ?? 'GET', req.url ?? '/');
    return t.refusal?.status === 400 ? (req.url ?? '/') : t.path + (t.query === null ? '' : `?${t.query}`);
  };
}

/** Minimal structural types, so this package does not depend on fastify. */
interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => Promise<void>): unknown;
}

/**
 * A Fastify plugin: `fastify.register(fastifyPlugin(core))`. It hooks onRequest on the raw
 * node objects; a refused request is answered here and the reply hijacked.
 * (Register it with fastify-plugin semantics, i.e. at the root, or wrap it with fastify-plugin.)
 */
export function fastifyPlugin(core: InterceptorCore): (fastify: FastifyLike, opts: unknown, done: () => void) => void {
  const plugin = (fastify: FastifyLike, _opts: unknown, done: () => void) => {
    fastify.addHook('onRequest', async (request, reply) => {
      const pass = await intercept(core, request.raw, reply.raw);
      if (!pass) reply.hijack();
    });
    done();
  };
  // fastify-plugin's marker: the hook applies to the whole instance, not an encapsulated child
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
