import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '@jwt-audit/events';
import type { Logger } from '@jwt-audit/runtime';
import { accessEvent, type AccessAction, type AccessLog } from './access-event.js';
import { approvalsPage, ApprovalsUnavailable, parseDecisionForm, refusalStatus, type Approvals } from './approvals.js';
import { csrfMatches, SESSION_COOKIE, type Auth, type User } from './auth.js';
import type { Integrity } from './integrity.js';
import type { PageContext } from './layout.js';
import { alertsPage, errorPage, eventPage, integrityPage, loginPage, searchPage, timelineForm, timelinePage } from './pages.js';
import { TIMELINE_FIELDS, type Reader, type TimelineKey } from './reader.js';
import { parseSearchParams, type ParamError } from './search-query.js';
import { buildTimeline } from './timeline.js';
import { parseSessionParams, parseSummaryId } from './session-query.js';
import { sessionsPage } from './sessions-page.js';
import { exchangeIds, ReplayRefused, tokenProblem, type Replayer } from './replay.js';
import { replayPage, replayPanel, type ReplayScope } from './replay-page.js';
import type { Selection } from '@jwt-audit/cli';

/**
 * The console's HTTP surface. Pages are server-rendered; the only script draws the charts
 * (uPlot, served from node_modules) and turns a brushed range into a search. Every page that
 * shows audit data requires a signed-in user with the read permission and records one
 * `audit.access` event. Errors are RFC 9457 problem details (as JSON, or as a page for a browser).
 */
export interface ConsoleDeps {
  reader: Reader;
  auth: Auth;
  integrity: Integrity;
  accessLog: AccessLog;
  source: AuditEvent['source'];
  logger: Logger;
  readRole: string;
  /** The permission that may decide approvals (`audit:approve`). */
  approveRole: string;
  approvals: Approvals;
  replayer: Replayer;
  now?: () => number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// src/static from src/ (source) and from dist/ (built: the image keeps src/static, deletes src/*.ts)
const staticDir = path.resolve(here, '..', 'src', 'static');
const require = createRequire(import.meta.url);
const uplotDir = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
const STATIC: Record<string, { file: string; type: string }> = {
  '/static/uPlot.iife.min.js': { file: path.join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/static/uPlot.min.css': { file: path.join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  '/static/console.js': { file: path.join(staticDir, 'console.js'), type: 'text/javascript; charset=utf-8' },
  '/static/console.css': { file: path.join(staticDir, 'console.css'), type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS = {
  // no external network at run time: everything the page loads comes from this server
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: ParamError[] = [],
  ) {
    super(detail);
  }
}

/** The client of an export hung up: the scan stops (not an error of the console). */
class ExportAbandoned extends Error {}

const MAX_FORM = 32 * 1024;
const ID = /^[A-Za-z0-9_-]{1,128}$/;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpProblem(415, 'Unsupported Media Type', 'send the form as application/x-www-form-urlencoded');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_FORM) throw new HttpProblem(413, 'Content Too Large', `a form is at most ${MAX_FORM} bytes`);
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Only local paths are followed after sign-in: `next` must not send the user to another site. */
const safeNext = (v: string | null | undefined) => (v && /^\/(?![/\\])[\x21-\x7e]{0,2000}$/.test(v) ? v : '/search');

/** The replay form: which session (summary or session id), dry run or run, the operator's token (run only). */
function parseReplayForm(form: URLSearchParams): { ok: true; scope: ReplayScope; token: string | null } | { ok: false; errors: ParamError[] } {
  const errors: ParamError[] = [];
  for (const k of new Set(form.keys())) {
    if (!['summary', 'session', 'mode', 'token', 'csrf'].includes(k))
      errors.push({ param: k.slice(0, 64), message: 'not a replay form field (summary or session, mode, token, csrf)' });
    else if (form.getAll(k).length > 1) errors.push({ param: k, message: 'given more than once' });
  }
  const keys = (['summary', 'session'] as const).filter((k) => form.has(k));
  if (keys.length !== 1)
    errors.push({
      param: keys.length ? keys[1]! : 'summary',
      message: 'give the session to replay: summary (a session id of the Sessions page) or session (a sid)',
    });
  const key = keys[0] ?? 'summary';
  const value = form.get(key) ?? '';
  const max = key === 'summary' ? 1024 : 256;
  if (keys.length === 1 && (value === '' || value.length > max || /[\u0000-\u001f\u007f]/.test(value)))
    errors.push({ param: key, message: `1 to ${max} characters, no control characters` });
  const mode = form.get('mode') ?? 'dry-run';
  if (mode !== 'dry-run' && mode !== 'run') errors.push({ param: 'mode', message: 'expected dry-run or run' });
  let token: string | null = null;
  if (mode === 'run') {
    const raw = (form.get('token') ?? '').trim();
    const problem =
      raw === '' ? 'required to replay: your token for the test instance (recorded tokens are never stored, so never replayed)' : tokenProblem(raw);
    if (problem) errors.push({ param: 'token', message: problem });
    else token = raw;
  }
  return errors.length ? { ok: false, errors } : { ok: true, scope: { key, value }, token };
}

export function createConsoleServer(d: ConsoleDeps): Server {
  const now = d.now ?? Date.now;
  const log = d.logger.child({ component: 'http' });
  const panelFor = (user: User, scope: ReplayScope) =>
    d.replayer.target && user.permissions.includes(d.replayer.role) ? replayPanel(scope, user.csrf ?? '', d.replayer.target) : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse, started: number): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console.invalid');
    } catch {
      throw new HttpProblem(400, 'Bad Request', 'the request target is not a URL');
    }
    const p = url.pathname;
    const method = req.method ?? 'GET';
    const ctx = async (): Promise<PageContext & { user: User | undefined }> => ({
      user: await d.auth.userOf(req.headers.cookie, req.headers.authorization),
      demo: d.auth.demo,
    });

    if (p === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ ok: true }));
    if (p === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'public, max-age=86400' });
      res.end();
      return;
    }
    const st = STATIC[p];
    if (st && method === 'GET') {
      res.writeHead(200, { 'content-type': st.type, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
      createReadStream(st.file).pipe(res);
      return;
    }
    if (p === '/login') {
      const c = await ctx();
      if (method === 'GET')
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          loginPage({ user: undefined, demo: c.demo }, { jwt: d.auth.jwt, next: safeNext(url.searchParams.get('next')) }),
        );
      if (method !== 'POST') throw new HttpProblem(405, 'Method Not Allowed', 'GET or POST /login');
      const form = await readForm(req);
      const token = form.get('token');
      const name = form.get('name');
      const out = token
        ? await d.auth.signInWithToken(token)
        : name !== null
          ? d.auth.signInDemo(name.trim())
          : { ok: false as const, status: 400, reason: 'give a token (or, on the demo login, a name)' };
      const who = out.ok ? out.user : { sub: null, permissions: [], method: token ? ('jwt' as const) : ('demo' as const), sessionRef: null };
      record(req, who, 'sign-in', { status: out.ok ? 303 : out.status, started, url });
      if (!out.ok)
        return send(
          res,
          out.status,
          'text/html; charset=utf-8',
          loginPage({ user: undefined, demo: c.demo }, { jwt: d.auth.jwt, error: out.reason, next: safeNext(form.get('next')) }),
        );
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        location: safeNext(form.get('next')),
        'set-cookie': `${SESSION_COOKIE}=${out.cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.max(60, Math.floor((out.user.expiresAt - now()) / 1000))}`,
      });
      res.end();
      return;
    }
    if (p === '/logout' && method === 'POST') {
      const u = d.auth.signOut(req.headers.cookie);
      if (u) record(req, u, 'sign-out', { status: 303, started, url });
      res.writeHead(303, { ...SECURITY_HEADERS, location: '/login', 'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
      res.end();
      return;
    }
    if (p === '/') {
      res.writeHead(303, { location: '/search' });
      res.end();
      return;
    }
    const deciding = p === '/approvals/decide';
    const replaying = p === '/replay';
    if (deciding && method !== 'POST') throw new HttpProblem(405, 'Method Not Allowed', 'POST /approvals/decide with the decision form');
    if (replaying && method !== 'POST') throw new HttpProblem(405, 'Method Not Allowed', 'POST /replay with the replay form of a session timeline');
    if (!deciding && !replaying && method !== 'GET') throw new HttpProblem(405, 'Method Not Allowed', `${method} ${p}: the console's pages are read with GET`);
    const c = await ctx();
    const user = c.user;
    if (!user) {
      if (wantsHtml(req)) {
        res.writeHead(303, { location: `/login?next=${encodeURIComponent(p + url.search)}` });
        res.end();
        return;
      }
      throw new HttpProblem(401, 'Unauthorized', 'sign in first (POST /login), or send Authorization: Bearer <JWT granting audit:read>');
    }
    if (!user.permissions.includes(d.readRole)) throw new HttpProblem(403, 'Forbidden', `${d.readRole} is required`);

    if (p === '/search' || p === '/export') {
      const parsed = parseSearchParams(url.searchParams, now());
      if (!parsed.ok) {
        record(req, user, p === '/search' ? 'search' : 'export', { status: 400, started, url, query: url.searchParams.get('q') ?? undefined });
        throw new HttpProblem(400, 'Bad Request', 'the search parameters are not valid', parsed.errors);
      }
      const s = parsed.params;
      if (p === '/export') {
        res.writeHead(200, {
          ...SECURITY_HEADERS,
          'content-type': 'application/x-ndjson; charset=utf-8',
          'content-disposition': 'attachment; filename="audit-events.ndjson"',
        });
        // who read the audit log is in the audit log, also when the download stops half-way (the
        // client hung up: 499; the index failed: 502): the events written before it count
        let written = 0;
        let status = 502;
        try {
          await d.reader.scan(
            s,
            (hits) => {
              if (res.destroyed) throw new ExportAbandoned();
              written += hits.length;
              return new Promise<void>((ok) => {
                if (res.write(hits.map((h) => `${JSON.stringify({ _id: h.id, ...h.doc })}\n`).join(''))) return ok();
                // a client that leaves never drains: its close ends the wait
                const go = () => {
                  res.off('drain', go);
                  res.off('close', go);
                  ok();
                };
                res.once('drain', go);
                res.once('close', go);
              });
            },
            100_000,
          );
          status = res.destroyed ? 499 : 200;
          res.end();
        } catch (err) {
          if (!(err instanceof ExportAbandoned)) throw err;
          status = 499;
        } finally {
          record(req, user, 'export', { status, started, url, query: s.q, results: written, target: 'search' });
        }
        return;
      }
      const r = await d.reader.search(s);
      record(req, user, 'search', { status: 200, started, url, query: s.q, results: r.total });
      return send(res, 200, 'text/html; charset=utf-8', searchPage(c, s, r));
    }
    const ev = /^\/event\/([^/]+)(\/proof)?$/.exec(p);
    if (ev) {
      const id = decodeURIComponent(ev[1]!);
      if (!ID.test(id)) throw new HttpProblem(400, 'Bad Request', 'an event id is 1 to 128 letters, digits, - or _');
      if (ev[2]) {
        if (!d.integrity.configured) throw new HttpProblem(404, 'Not Found', 'no archive is configured on this console');
        const proof = await d.integrity.proof(id);
        record(req, user, 'proof', { status: proof ? 200 : 404, started, url, target: `event:${id}` });
        if (!proof) throw new HttpProblem(404, 'Not Found', `event ${id} is not in the archive (yet: the archiver seals segments every few seconds)`);
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json', 'content-disposition': `attachment; filename="proof-${id}.json"` });
        res.end(`${JSON.stringify(proof, null, 2)}\n`);
        return;
      }
      const hit = await d.reader.get(id);
      record(req, user, 'event', { status: hit ? 200 : 404, started, url, target: `event:${id}`, results: hit ? 1 : 0 });
      if (!hit) throw new HttpProblem(404, 'Not Found', `no event or alert ${id} in the index`);
      return send(res, 200, 'text/html; charset=utf-8', eventPage(c, hit, d.integrity.configured));
    }
    if (p === '/sessions') {
      const parsed = parseSessionParams(url.searchParams, now());
      if (!parsed.ok) {
        record(req, user, 'sessions', { status: 400, started, url });
        throw new HttpProblem(400, 'Bad Request', 'the session filters are not valid', parsed.errors);
      }
      const s = parsed.params;
      const r = await d.reader.sessions(s);
      const target = [
        s.subject !== undefined ? `subject:${s.subject}` : '',
        s.state ?? '',
        s.reason ? `reason:${s.reason}` : '',
        s.sinceRaw ? `since:${s.sinceRaw}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      record(req, user, 'sessions', { status: 200, started, url, target: target ? `sessions ${target}` : 'sessions', results: r.total });
      return send(res, 200, 'text/html; charset=utf-8', sessionsPage(c, s, r));
    }
    if (p === '/timeline') {
      const keys = ([...Object.keys(TIMELINE_FIELDS), 'summary'] as (TimelineKey | 'summary')[]).filter((k) => url.searchParams.has(k));
      if (keys.length === 0) return send(res, 200, 'text/html; charset=utf-8', timelineForm(c));
      if (keys.length > 1)
        throw new HttpProblem(
          400,
          'Bad Request',
          'give one of subject, session, family or summary',
          keys.map((k) => ({ param: k, message: 'given together with another' })),
        );
      const key = keys[0]!;
      const values = url.searchParams.getAll(key);
      const value = key === 'summary' ? (values[0] ?? '') : (values[0] ?? '').trim();
      const errors: ParamError[] = [];
      if (key === 'summary') {
        const id = parseSummaryId(values);
        if (!id.ok) errors.push(...id.errors);
      } else {
        if (values.length > 1) errors.push({ param: key, message: 'given more than once' });
        if (value === '' || value.length > 256 || /[\u0000-\u001f\u007f]/.test(value))
          errors.push({ param: key, message: '1 to 256 characters, no control characters' });
      }
      const atRaw = url.searchParams.get('at');
      if (atRaw !== null && !/^\d{1,5}$/.test(atRaw)) errors.push({ param: 'at', message: 'expected a step number from 0' });
      if (errors.length) {
        record(req, user, 'timeline', { status: 400, started, url });
        throw new HttpProblem(400, 'Bad Request', 'the timeline parameters are not valid', errors);
      }
      if (key === 'summary') {
        const t = await d.reader.sessionTimeline(value);
        record(req, user, 'timeline', { status: t ? 200 : 404, started, url, target: `summary:${value}`, results: t ? t.events.length + t.alerts.length : 0 });
        if (!t) throw new HttpProblem(404, 'Not Found', 'no session with this id in the sessions index', [{ param: 'summary', message: 'no such session' }]);
        const { entries, chain } = buildTimeline(t.events, t.alerts);
        const at = Math.min(atRaw === null ? 0 : Number(atRaw), Math.max(0, entries.length - 1));
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          timelinePage(c, 'summary', value, entries, chain, at, t.truncated, t.session, panelFor(user, { key: 'summary', value })),
        );
      }
      const t = await d.reader.timeline(key, value);
      const { entries, chain } = buildTimeline(t.events, t.alerts);
      const at = Math.min(atRaw === null ? 0 : Number(atRaw), Math.max(0, entries.length - 1));
      record(req, user, 'timeline', { status: 200, started, url, target: `${key}:${value}`, results: entries.length });
      return send(
        res,
        200,
        'text/html; charset=utf-8',
        timelinePage(c, key, value, entries, chain, at, t.truncated, undefined, key === 'session' ? panelFor(user, { key: 'session', value }) : undefined),
      );
    }
    if (p === '/alerts') {
      const severity = url.searchParams.get('severity') ?? undefined;
      const rule = url.searchParams.get('rule') ?? undefined;
      const errors: ParamError[] = [];
      if (severity !== undefined && !['low', 'medium', 'high', 'critical'].includes(severity))
        errors.push({ param: 'severity', message: 'expected one of low, medium, high, critical' });
      if (rule !== undefined && !/^[a-z0-9-]{1,100}$/.test(rule)) errors.push({ param: 'rule', message: 'a rule name: lower-case letters, digits and -' });
      if (errors.length) throw new HttpProblem(400, 'Bad Request', 'the alert filters are not valid', errors);
      const filter = { ...(severity ? { severity } : {}), ...(rule ? { rule } : {}) };
      const r = await d.reader.alerts(filter, 200);
      record(req, user, 'alerts', { status: 200, started, url, target: rule ? `rule:${rule}` : severity ? `severity:${severity}` : 'all', results: r.total });
      return send(res, 200, 'text/html; charset=utf-8', alertsPage(c, filter, r));
    }
    if (p === '/integrity') {
      let state = d.integrity.last();
      if (d.integrity.configured && (!state || url.searchParams.get('verify') === '1')) state = await d.integrity.verify();
      record(req, user, 'integrity', { status: 200, started, url, target: 'archive', results: state?.report.records ?? 0 });
      return send(res, 200, 'text/html; charset=utf-8', integrityPage(c, d.integrity.dir, state?.report, state?.partitions ?? [], state?.checkedAt));
    }
    if (p === '/approvals') {
      const views = await d.approvals.pending(now());
      record(req, user, 'approvals', { status: 200, started, url, target: 'pending', results: views.length });
      const decided = url.searchParams.get('decided');
      const notice = decided && /^(approved|denied|recorded) [0-9a-f-]{36}$/.test(decided) ? decided : undefined;
      return send(
        res,
        200,
        'text/html; charset=utf-8',
        approvalsPage({ ...c, user }, views, {
          canDecide: user.permissions.includes(d.approveRole),
          approveRole: d.approveRole,
          now: now(),
          ...(notice ? { notice } : {}),
        }),
      );
    }
    if (replaying) {
      const form = await readForm(req);
      const dryRun = form.get('mode') !== 'run';
      const action = dryRun ? 'replay-dry-run' : 'replay';
      if (!user.permissions.includes(d.replayer.role)) {
        record(req, user, action, { status: 403, started, url });
        throw new HttpProblem(403, 'Forbidden', `${d.replayer.role} is required to replay: a replay sends requests to a service`);
      }
      if (!csrfMatches(user, form.get('csrf'))) {
        record(req, user, action, { status: 403, started, url });
        throw new HttpProblem(403, 'Forbidden', "the form is missing its CSRF token or carries another session's: reload the timeline and start again", [
          { param: 'csrf', message: "missing or not this session's" },
        ]);
      }
      const parsed = parseReplayForm(form);
      if (!parsed.ok) {
        record(req, user, action, { status: 400, started, url });
        throw new HttpProblem(400, 'Bad Request', 'the replay form is not valid', parsed.errors);
      }
      const { scope, token } = parsed;
      const target = `${scope.key}:${scope.value}`;
      let sel: Selection;
      if (scope.key === 'session') sel = { selector: { kind: 'session', session: scope.value } };
      else {
        const t = await d.reader.sessionTimeline(scope.value);
        if (!t) {
          record(req, user, action, { status: 404, started, url, target });
          throw new HttpProblem(404, 'Not Found', 'no session with this id in the sessions index', [{ param: 'summary', message: 'no such session' }]);
        }
        sel = { selector: { kind: 'events', ids: exchangeIds(t.events) } };
        if (sel.selector.kind === 'events' && sel.selector.ids.length === 0) {
          record(req, user, action, { status: 422, started, url, target });
          throw new HttpProblem(422, 'Unprocessable Content', 'this session recorded no HTTP exchange to replay');
        }
      }
      try {
        const run = await d.replayer.run(sel, { token: dryRun ? null : token, dryRun });
        record(req, user, action, { status: 200, started, url, target, results: run.rows.length });
        return send(res, 200, 'text/html; charset=utf-8', replayPage(c, scope, run, user.csrf ?? ''));
      } catch (err) {
        if (err instanceof ReplayRefused) {
          record(req, user, action, { status: err.status, started, url, target });
          throw new HttpProblem(
            err.status,
            err.status === 403 ? 'Forbidden' : err.status === 404 ? 'Not Found' : 'Unprocessable Content',
            err.message,
            err.errors,
          );
        }
        throw err;
      }
    }
    if (deciding) {
      if (!user.permissions.includes(d.approveRole)) {
        record(req, user, 'approve', { status: 403, started, url });
        throw new HttpProblem(403, 'Forbidden', `${d.approveRole} is required to decide an approval`);
      }
      const form = await readForm(req);
      const action = form.get('decision') === 'deny' ? 'deny' : 'approve';
      if (!csrfMatches(user, form.get('csrf'))) {
        record(req, user, action, { status: 403, started, url });
        throw new HttpProblem(403, 'Forbidden', "the form is missing its CSRF token or carries another session's: reload the Approvals page and decide again", [
          { param: 'csrf', message: "missing or not this session's" },
        ]);
      }
      const parsed = parseDecisionForm(form);
      if (!parsed.ok) {
        record(req, user, action, { status: 400, started, url });
        throw new HttpProblem(400, 'Bad Request', 'the decision form is not valid', parsed.errors);
      }
      const f = parsed.value;
      const target = `approval:${f.id}`;
      const out = await d.approvals.decide({ id: f.id, approver: user.sub, decision: f.decision, reason: f.reason });
      if (!out.ok) {
        const status = refusalStatus(out.code);
        record(req, user, action, { status, started, url, target });
        throw new HttpProblem(
          status,
          status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : 'Conflict',
          `${out.detail ?? 'refused'} (${out.code ?? 'refused'})`,
          [{ param: 'id', message: out.code ?? 'refused' }],
        );
      }
      record(req, user, action, { status: wantsHtml(req) ? 303 : 200, started, url, target });
      if (wantsHtml(req)) {
        const word = f.decision === 'denied' ? 'denied' : out.status === 'granted' ? 'approved' : 'recorded';
        res.writeHead(303, { ...SECURITY_HEADERS, location: `/approvals?decided=${encodeURIComponent(`${word} ${f.id}`)}` });
        res.end();
        return;
      }
      return send(res, 200, 'application/json', JSON.stringify(out));
    }
    throw new HttpProblem(404, 'Not Found', `no page ${p}`);
  };

  const record = (
    req: IncomingMessage,
    user: Parameters<typeof accessEvent>[0]['user'],
    action: AccessAction,
    o: { status: number; started: number; url: URL; target?: string; query?: string; results?: number },
  ) => {
    const e = accessEvent(
      {
        user,
        action,
        ...(o.target !== undefined ? { target: o.target } : {}),
        ...(o.query !== undefined ? { query: o.query } : {}),
        ...(o.results !== undefined ? { results: o.results } : {}),
        method: req.method ?? 'GET',
        path: o.url.pathname.slice(0, 2048),
        queryString: o.url.search ? o.url.search.slice(1, 4097) : null,
        status: o.status,
        latencyMs: Math.max(0, performance.now() - o.started),
        clientIp: req.socket.remoteAddress ?? null,
        userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 512) : null,
        host: (req.headers.host ?? 'console').slice(0, 255),
      },
      d.source,
      now(),
    );
    d.accessLog.record(e);
  };

  return createServer((req, res) => {
    const started = performance.now();
    handle(req, res, started).catch((err: unknown) => {
      if (err instanceof ApprovalsUnavailable) {
        log.error({ err: err.message }, 'approvals: Kafka unavailable');
        err = new HttpProblem(
          503,
          'Service Unavailable',
          'the approvals on Kafka could not be read or written now; nothing was decided unless the list says so: reload and try again',
        );
      }
      const problem = err instanceof HttpProblem ? err : undefined;
      const es = err as { meta?: { statusCode?: number; body?: { error?: { reason?: string; root_cause?: { reason?: string }[] } } } };
      // a query string the index cannot parse is the user's mistake: 400 naming why
      const esReason = es.meta?.statusCode === 400 ? (es.meta.body?.error?.root_cause?.[0]?.reason ?? es.meta.body?.error?.reason) : undefined;
      const status = problem?.status ?? (esReason ? 400 : 502);
      const title = problem?.title ?? (esReason ? 'Bad Request' : 'Bad Gateway');
      const detail = problem?.detail ?? (esReason ? `the search was refused: ${esReason}` : 'the index or archive could not be read; see the console log');
      const errors = problem?.errors ?? (esReason ? [{ param: 'q', message: esReason }] : []);
      if (!problem && !esReason) log.error({ err: (err as Error).message, path: req.url?.split('?')[0] }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (wantsHtml(req)) {
        void d.auth
          .userOf(req.headers.cookie, req.headers.authorization)
          .catch(() => undefined)
          .then((user) => send(res, status, 'text/html; charset=utf-8', errorPage({ user, demo: d.auth.demo }, status, title, detail, errors)));
      } else
        send(res, status, 'application/problem+json', JSON.stringify({ type: 'about:blank', title, status, detail, ...(errors.length ? { errors } : {}) }));
    });
  });
}

function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
