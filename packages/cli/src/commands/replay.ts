import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { Command, InvalidArgumentError, Option } from 'commander';
import { EVENTS_INDEX_PATTERN } from '@jwt-audit/ecs';
import { esClientOptions } from '@jwt-audit/runtime';
import { EXIT } from '../program.js';
import { esConnection, esRefused } from '../connections.js';
import { parseTime } from './archive.js';
import { NotAnExchange, planRequest, REPLAY_HEADER, type PlannedRequest } from '../replay/plan.js';
import { outgoing, replay, type ReplayRow } from '../replay/replay.js';
import { formatDryRun, formatTable, jsonReport, summarise, type ReportContext } from '../replay/report.js';
import { productionMatch, productionUpstreams } from '../replay/safety.js';
import { describeSelection, selectExchanges, type Selection } from '../replay/select.js';
import { cliError, CLI_ERRORS } from '../errors.js';

/**
 * `audit replay`: a recorded session sent again to a test instance, each answer compared with the
 * recorded one. Exit 0: every replayed request matched; 1: a difference, or a request that got no
 * answer; 2: usage, a refused production target, nothing selected; 3: Elasticsearch, or the
 * target for every request, could not be reached.
 */

const usage = (message: string) => cliError(EXIT.usage, message);

/** Session ids and subjects as the index holds them: a keyword, no control characters. */
function identifier(flag: string) {
  return (v: string) => {
    if (v.length === 0 || v.length > 1024 || /[\0-\x1f\x7f]/.test(v) || v.trim() !== v)
      throw new InvalidArgumentError(`${flag} must be 1..1024 characters without control characters or surrounding spaces`);
    return v;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function eventIds(v: string, previous: string[] = []): string[] {
  const ids = v.split(',').map((x) => x.trim());
  for (const id of ids)
    if (!UUID.test(id))
      throw new InvalidArgumentError(`--event expects event ids (UUIDs), comma separated or repeated; ${JSON.stringify(id.slice(0, 60))} is not one`);
  const all = [...previous, ...ids];
  if (all.length > 10_000) throw new InvalidArgumentError('--event: at most 10000 ids');
  return all;
}

const DURATION = /^(\d{1,9})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
function time(flag: string) {
  return (v: string) => {
    const d = DURATION.exec(v.trim());
    let t: number;
    if (d) t = Date.now() - Number(d[1]) * UNIT_MS[d[2]!]!;
    else {
      if (v.trim().endsWith('||')) throw new InvalidArgumentError(`${flag}: date math after || is missing (e.g. 2026-11-20T10:00:00Z||+1h)`);
      try {
        t = parseTime(v);
      } catch (err) {
        throw new InvalidArgumentError(`${flag}: ${(err as Error).message}, or a duration like 15m, 2h, 7d`);
      }
    }
    if (!Number.isFinite(t) || t < 0 || t > 253_402_300_799_999) throw new InvalidArgumentError(`${flag}: outside the dates the index holds (years 1970-9999)`);
    return t;
  };
}

function rate(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isFinite(n) || n <= 0 || n > 1000)
    throw new InvalidArgumentError('--rate must be a number of requests per second, more than 0 and at most 1000');
  return n;
}

function intIn(flag: string, min: number, max: number) {
  return (v: string) => {
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${flag} must be an integer ${min}..${max}`);
    return Number(v);
  };
}

function targetUrl(v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('--target must be an absolute http(s) URL like http://127.0.0.1:9100');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`--target must be http:// or https://, not ${u.protocol}`);
  if (u.username !== '' || u.password !== '') throw new InvalidArgumentError('--target must not hold credentials: the operator token goes in --token-file');
  if (u.search !== '' || u.hash !== '') throw new InvalidArgumentError('--target is a base URL: no query or fragment');
  return u;
}

function productionUpstream(v: string, previous: string[] = []): string[] {
  const list = v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError('--production-upstream expects one or more http(s) URLs, comma separated');
  for (const one of list) {
    try {
      const u = new URL(one);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw CLI_ERRORS.AUDIT_ERR_CLI_USAGE.create('not an http(s) URL');
    } catch {
      throw new InvalidArgumentError(`--production-upstream expects http(s) URLs, comma separated or repeated; ${JSON.stringify(one.slice(0, 60))} is not one`);
    }
    previous = [...previous, one];
  }
  return previous;
}

/** A bearer token as RFC 6750 allows it (b64token): nothing that could break out of the header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
function checkToken(token: string, flag: string): string {
  if (token.length === 0) throw usage(`${flag}: the token is empty`);
  if (token.length > 16_384) throw usage(`${flag}: the token is longer than 16384 characters`);
  if (!B64TOKEN.test(token))
    throw usage(`${flag}: not a bearer token (RFC 6750 b64token: letters, digits and - . _ ~ + /, then = padding); give the token itself, without "Bearer "`);
  return token;
}

interface ReplayFlags {
  session?: string;
  subject?: string;
  event?: string[];
  since?: number;
  until?: number;
  target: URL;
  token?: string;
  tokenFile?: string;
  pace: 'recorded' | 'none';
  rate: number;
  limit: number;
  timeout: number;
  dryRun?: boolean;
  sendUnfaithful?: boolean;
  allowProduction?: boolean;
  productionUpstream?: string[];
  interceptorConfig?: string;
  index: string;
  json?: boolean;
  esUrl?: string;
  apiKey?: string;
}

function selection(o: ReplayFlags): Selection {
  const given = [o.session !== undefined && '--session', o.subject !== undefined && '--subject', o.event !== undefined && '--event'].filter(Boolean);
  if (given.length === 0) throw usage('which recorded requests? give --session <id>, --subject <sub> with --since, or --event <id>');
  if (given.length > 1) throw usage(`give one selector, not ${given.join(' and ')}`);
  if (o.subject !== undefined && o.since === undefined)
    throw usage("--subject needs --since (and optionally --until): a subject's whole history is not a session");
  if (o.since !== undefined && o.until !== undefined && o.since > o.until) throw usage('--since is after --until');
  const range = { ...(o.since !== undefined ? { since: o.since } : {}), ...(o.until !== undefined ? { until: o.until } : {}) };
  if (o.session !== undefined) return { selector: { kind: 'session', session: o.session }, ...range };
  if (o.subject !== undefined) return { selector: { kind: 'subject', subject: o.subject }, ...range };
  return { selector: { kind: 'events', ids: [...new Set(o.event!)] }, ...range };
}

function operatorToken(o: ReplayFlags): string | null {
  if (o.token !== undefined && o.tokenFile !== undefined) throw usage('give --token or --token-file, not both');
  if (o.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.tokenFile, 'utf8');
    } catch (err) {
      throw usage(`--token-file: cannot read ${o.tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return checkToken(text.replace(/\r?\n$/, ''), '--token-file');
  }
  if (o.token !== undefined) return checkToken(o.token, '--token');
  return null;
}

export function register(program: Command): void {
  program
    .command('replay')
    .description(
      'replay a recorded session against a test instance and compare each answer with the recorded one: the requests in recorded order with their method, path, query, allow-listed headers and captured bodies, authenticated with your token (recorded tokens are never stored)',
    )
    .option('--session <id>', "the recorded session (jwt_audit.session_id: the token's sid)", identifier('--session'))
    .option('--subject <sub>', 'every request of a subject (user.id) between --since and --until', identifier('--subject'))
    .option('--event <ids>', 'these events (ids, comma separated or repeated)', eventIds)
    .option('--since <time>', 'from: a duration back from now (15m, 2h, 7d), ISO 8601, epoch ms or date math (now-1h)', time('--since'))
    .option('--until <time>', 'to (default now): as --since', time('--until'))
    .requiredOption('--target <url>', 'base URL of the test instance to send the requests to (http or https)', targetUrl)
    .option('--token <token>', 'the bearer token to authenticate with (visible to other users in the process list: prefer --token-file)')
    .option('--token-file <file>', 'a file holding the bearer token')
    .addOption(
      new Option('--pace <mode>', 'recorded: keep the recorded spacing between requests; none: as fast as --rate allows')
        .choices(['recorded', 'none'])
        .default('none'),
    )
    .option('--rate <req/s>', 'at most this many requests per second', rate, 5)
    .option('--limit <n>', 'refuse a selection of more than n requests (1..10000)', intIn('--limit', 1, 10_000), 1000)
    .option('--timeout <ms>', 'give up on an answer after this long (100..600000)', intIn('--timeout', 100, 600_000), 30_000)
    .option('--dry-run', 'print what would be sent; send nothing')
    .option('--send-unfaithful', 'also send requests whose body was not captured or was truncated (with what was kept)')
    .option('--allow-production', 'allow a target that is a configured production upstream')
    .option(
      '--production-upstream <urls>',
      "production upstreams to refuse as target, besides the interceptor's AUDIT_INTERCEPTOR_UPSTREAMS (comma separated or repeated)",
      productionUpstream,
    )
    .option('--interceptor-config <file>', "the interceptor's config file: its upstreams are refused as target too")
    .option('--index <pattern>', 'index, data stream or pattern of events', EVENTS_INDEX_PATTERN)
    .option('--json', `one JSON report: {"target","selection","dry_run","summary","requests":[...]}`)
    .option('--es-url <url>', 'Elasticsearch URL (default: AUDIT_ES_URL or http://127.0.0.1:9200; credentials and CA from AUDIT_ES_*)')
    .option('--api-key <key>', 'Elasticsearch API key (default: AUDIT_ES_API_KEY)')
    .addHelpText(
      'after',
      `
Every request carries ${REPLAY_HEADER}: <recorded event id>. What cannot be replayed as recorded is listed
with why: a body not captured or truncated (skipped unless --send-unfaithful), masked values (sent as
their masks, and not compared in the answer), secret headers (only fingerprints were recorded).

Exit codes: 0 every replayed request matched (or --dry-run); 1 a difference, or a request got no
answer; 2 usage, a production target, nothing selected; 3 Elasticsearch or the target unreachable.

Example:
  audit replay --session sid-3f9a1c2b --target http://127.0.0.1:9101 --token-file ./test-token`,
    )
    .action(async (o: ReplayFlags) => {
      const sel = selection(o);
      const token = operatorToken(o);
      if (token === null && !o.dryRun)
        throw usage('give --token-file (or --token) to authenticate the replayed requests: recorded tokens are never stored; --dry-run needs none');
      let production;
      try {
        production = productionUpstreams(o, process.env);
      } catch (err) {
        throw usage((err as Error).message);
      }
      const hit = await productionMatch(o.target, production);
      if (hit && !o.allowProduction) {
        throw usage(
          `--target ${o.target.origin} is a production upstream (${hit.url}, from ${hit.source}): refused; replay against a test instance, or add --allow-production`,
        );
      }

      const conn = esConnection({ ...(o.esUrl !== undefined ? { esUrl: o.esUrl } : {}), ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}) });
      const es = new Client({ ...esClientOptions(conn, 'audit'), maxRetries: 1, requestTimeout: 30_000 });
      let plan: PlannedRequest[];
      try {
        const { exchanges, total, missing } = await selectExchanges(es, o.index, sel, o.limit);
        if (total > o.limit) throw usage(`--limit: ${total} recorded requests match, more than --limit ${o.limit}: narrow the selection or raise --limit`);
        if (missing.length > 0)
          throw usage(
            `--event: no recorded HTTP exchange with id ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} in ${o.index} (a token.rejected event holds the request only: take the http.exchange of the same request)`,
          );
        if (exchanges.length === 0) throw usage(`no recorded HTTP exchange of ${describeSelection(sel)} in ${o.index}`);
        plan = exchanges.map((x) => {
          try {
            return planRequest(x.id, x.doc);
          } catch (err) {
            if (err instanceof NotAnExchange) throw usage(err.message);
            throw err;
          }
        });
      } catch (err) {
        if ((err as { exitCode?: number }).exitCode !== undefined) throw err;
        const refused = await esRefused(err, conn);
        if (refused) throw usage(refused);
        const e = err as { meta?: { statusCode?: number; body?: { error?: { reason?: string } } }; message: string };
        throw cliError(
          e.meta?.statusCode === 400 ? EXIT.usage : EXIT.unavailable,
          `reading ${o.index} on ${conn.url}: ${e.meta?.body?.error?.reason ?? e.message}`,
        );
      } finally {
        await es.close();
      }

      const ctx: ReportContext = { target: o.target.href, selection: describeSelection(sel), dryRun: o.dryRun === true, rate: o.rate, pace: o.pace };
      // the token never reaches the output: the header shows a placeholder
      const shownHeaders = (r: ReplayRow) => {
        const h = outgoing(r.request, { target: o.target, token: 'x' }).headers;
        if (h.authorization) h.authorization = 'Bearer <operator token>';
        return h;
      };
      const progress = process.stderr.isTTY && !o.json && !o.dryRun;
      const rows = await replay(plan, {
        target: o.target,
        token,
        rate: o.rate,
        pace: o.pace,
        timeoutMs: o.timeout,
        dryRun: o.dryRun === true,
        sendUnfaithful: o.sendUnfaithful === true,
        ...(progress
          ? {
              onRow: (r: ReplayRow, total: number) =>
                process.stderr.write(
                  `\rreplaying ${r.n}/${total} ${r.request.method} ${r.request.target.slice(0, 40).padEnd(40)} ${r.result.padEnd(8)}${r.n === total ? '\n' : ''}`,
                ),
            }
          : {}),
      });
      if (o.json) process.stdout.write(`${JSON.stringify(jsonReport(rows, ctx, shownHeaders))}\n`);
      else process.stdout.write((o.dryRun ? formatDryRun(rows, shownHeaders) : '') + formatTable(rows, ctx));

      const s = summarise(rows);
      const sent = s.requests - s.skipped;
      if (
        !o.dryRun &&
        sent > 0 &&
        s.errors === sent &&
        rows.every((r) => r.result !== 'error' || /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|EAI_AGAIN)/.test(r.error ?? ''))
      ) {
        process.stderr.write(`audit replay: the target ${o.target.origin} could not be reached\n`);
        process.exitCode = EXIT.unavailable;
      } else if (s.differed > 0 || s.errors > 0) process.exitCode = EXIT.failed;
    });
}
