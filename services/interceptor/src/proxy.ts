import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Verifier } from '@jwt-audit/jwt';
import type { Logger } from '@jwt-audit/runtime';
import { connectionTokens, type Engine, type RequestContext } from './engine.js';
import { problem, sendProblem } from './problem.js';
import { matchRoute, type Route } from './routes.js';
import { FamilyTracker, observeTokenEndpoint } from './token-endpoint.js';

/**
 * The reverse proxy, on node:http request piping rather than a proxy library: the interceptor
 * has to see every byte anyway (body capture with a cap, token endpoint parsing), decide before
 * the upstream is contacted, and control hop-by-hop and trace headers; a proxy library would be
 * hooks around the same ~100 lines. Upstream connections are kept alive.
 */
export interface ProxyOptions {
  engine: Engine;
  routes: Route[];
  verifier: Verifier;
  logger: Logger;
  upstreamTimeoutMs: number;
  maxRequestBodyBytes: number;
  /** Handles the ingest API path, when enabled. */
  ingest?: { path: string; handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const UNMATCHED: Route = {
  name: 'unmatched',
  pattern: '(unmatched)',
  methods: null,
  upstream: null,
  auth: 'none',
  scopes: [],
  mode: 'observe',
  tokenEndpoint: null,
  capture: undefined,
  onSpoolFull: 'fail-open',
  regex: /^$/,
};

export function createProxyHandler(o: ProxyOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 512 });
  const families = new FamilyTracker();
  const log = o.logger.child({ component: 'proxy' });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (o.ingest && path === o.ingest.path) return o.ingest.handler(req, res);
    const route = matchRoute(o.routes, req.method ?? 'GET', path);
    const ctx = await o.engine.begin(req, route ?? UNMATCHED);
    let finished = false;
    const finish = (status: number, headers: Record<string, string | string[] | number | undefined>, extra: Parameters<Engine['finish']>[3] = []) => {
      if (finished) return;
      finished = true;
      o.engine.finish(ctx, status, headers, extra);
    };

    if (!route || !route.upstream) {
      req.resume();
      sendProblem(res, problem(404, 'no-route', 'Not found', 'no route matches this path'));
      finish(404, res.getHeaders());
      return;
    }
    if (!ctx.decision.allow) {
      req.resume();
      sendProblem(res, ctx.decision.problem, ctx.decision.headers);
      finish(ctx.decision.problem.status, res.getHeaders());
      return;
    }
    forward(req, res, route, route.upstream, ctx, finish);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, route: Route, upstream: URL, ctx: RequestContext, finish: (status: number, headers: Record<string, string | string[] | number | undefined>, extra?: Parameters<Engine['finish']>[3]) => void) => {
    const base = upstream.pathname.endsWith('/') ? upstream.pathname.slice(0, -1) : upstream.pathname;
    const isHttps = upstream.protocol === 'https:';
    const upReq = (isHttps ? https : http).request({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port || (isHttps ? 443 : 80),
      method: req.method,
      path: base + (req.url ?? '/'),
      headers: { ...o.engine.upstreamHeaders(req, ctx), host: upstream.host },
      agent: isHttps ? httpsAgent : httpAgent,
      timeout: o.upstreamTimeoutMs,
    });
    let received = 0;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > o.maxRequestBodyBytes) {
      upReq.on('error', () => {}); // destroyed before use: its "socket hang up" means nothing
      upReq.destroy();
      req.resume();
      res.setHeader('connection', 'close');
      sendProblem(res, problem(413, 'payload-too-large', 'Payload too large', `the request body exceeds ${o.maxRequestBodyBytes} bytes`));
      finish(413, res.getHeaders());
      return;
    }
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > o.maxRequestBodyBytes) {
        req.unpipe(upReq);
        upReq.destroy();
        req.resume();
        res.setHeader('connection', 'close');
        sendProblem(res, problem(413, 'payload-too-large', 'Payload too large', `the request body exceeds ${o.maxRequestBodyBytes} bytes`));
        finish(413, res.getHeaders());
        return;
      }
      ctx.requestBody?.push(chunk);
    });
    req.pipe(upReq);

    upReq.on('timeout', () => upReq.destroy(new Error('upstream timeout')));
    upReq.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        finish(res.statusCode || 502, res.getHeaders());
        return;
      }
      const timeout = err.message === 'upstream timeout';
      log.warn({ route: route.name, err: err.message }, timeout ? 'upstream timed out' : 'upstream request failed');
      sendProblem(res, timeout ? problem(504, 'upstream-timeout', 'Upstream timeout', 'the upstream did not answer in time') : problem(502, 'bad-gateway', 'Bad gateway', 'the upstream could not be reached'));
      finish(res.statusCode, res.getHeaders());
    });
    upReq.on('response', (upRes) => {
      const headers: Record<string, string | string[]> = {};
      const listed = connectionTokens(upRes.headers.connection);
      for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && !listed?.includes(k)) headers[k] = v;
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.on('data', (chunk: Buffer) => ctx.responseBody?.push(chunk));
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
      res.on('finish', () => {
        const status = upRes.statusCode ?? 502;
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
        ).then(
          (observed) => {
            finish(status, headers, observed.events);
            if (observed.revocations.length > 0) o.engine.publish([], observed.revocations);
          },
          (err: unknown) => {
            log.warn({ err: (err as Error).message }, 'token endpoint observation failed');
            finish(status, headers);
          },
        );
      });
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        upReq.destroy();
        finish(499, res.getHeaders()); // client went away (nginx's 499)
      }
    });
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'request handling failed');
      if (!res.headersSent) sendProblem(res, problem(500, 'internal', 'Internal error'));
      else res.destroy();
    });
  };
}
