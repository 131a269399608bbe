import { Client, type estypes } from '@elastic/elasticsearch';
import { Command, InvalidArgumentError } from 'commander';
import { ALERTS_INDEX_PATTERN, EVENTS_INDEX_PATTERN } from '@jwt-audit/ecs';
import { esClientOptions, type EsConnectionConfig } from '@jwt-audit/runtime';
import { EXIT } from '../program.js';
import { esConnection, esRefused } from '../connections.js';

/**
 * `audit search [query]`: a query string (Kibana/Lucene syntax) over the audit data streams,
 * a time window, a readable table or JSON lines, and --follow. Works on the embedded search node
 * and on real Elasticsearch: it is the same client.
 */

const DURATION = /^(\d+)(s|m|h|d|w)$/;

export function parseSince(v: string): string {
  const m = DURATION.exec(v);
  if (!m) throw new InvalidArgumentError('expected a duration like 30s, 15m, 2h, 7d');
  return `now-${m[1]}${m[2] === 'w' ? 'w' : m[2]}`;
}

export interface SearchRow {
  '@timestamp'?: string;
  event?: { id?: string; action?: string; outcome?: string; reason?: string };
  user?: { id?: string };
  source?: { ip?: string };
  http?: { request?: { method?: string }; response?: { status_code?: number } };
  url?: { path?: string };
  message?: string;
  rule?: { name?: string };
  jwt_audit?: { token?: { typ?: string } };
}

export interface AlertRow {
  '@timestamp'?: string;
  message?: string;
  rule?: { name?: string };
  user?: { id?: string };
  source?: { ip?: string };
  jwt_audit?: { alert?: { severity?: string; count?: number } };
}

/** Alerts read differently from events: severity, rule and what it says, then who and where. */
export function formatAlertRow(d: AlertRow): string {
  return [
    (d['@timestamp'] ?? '').replace('T', ' ').replace('Z', ''),
    (d.jwt_audit?.alert?.severity ?? '').toUpperCase().padEnd(8),
    (d.rule?.name ?? '').padEnd(30),
    (d.user?.id ?? '-').padEnd(20),
    (d.source?.ip ?? '-').padEnd(15),
    `x${d.jwt_audit?.alert?.count ?? 1}`.padEnd(5),
    d.message ?? '',
  ].join('  ');
}

/**
 * The action, and for a token event which token: a login issues an access, a refresh and maybe an
 * id token, which were identical `token-issued` rows (issue #25).
 */
export function actionOf(d: SearchRow): string {
  const action = d.event?.action ?? d.rule?.name ?? '';
  const typ = d.jwt_audit?.token?.typ;
  return action.startsWith('token-') && typ && typ !== 'unknown' ? `${action} (${typ})` : action;
}

const EVENT_HEADER = `${'time'.padEnd(23)}  ${'action'.padEnd(26)}  ${'outcome'.padEnd(7)}  ${'user'.padEnd(20)}  ${'source ip'.padEnd(15)}  ${'request'.padEnd(28)}  reason`;
const ALERT_HEADER = `${'time'.padEnd(23)}  ${'severity'.padEnd(8)}  ${'rule'.padEnd(30)}  ${'user'.padEnd(20)}  ${'source ip'.padEnd(15)}  ${'count'.padEnd(5)}  description`;

export function formatRow(d: SearchRow): string {
  const req = d.http?.request?.method ? `${d.http.request.method} ${d.url?.path ?? ''} ${d.http.response?.status_code ?? ''}`.trim() : '';
  return [
    (d['@timestamp'] ?? '').replace('T', ' ').replace('Z', ''),
    actionOf(d).padEnd(26),
    (d.event?.outcome ?? '').padEnd(7),
    (d.user?.id ?? '-').padEnd(20),
    (d.source?.ip ?? '-').padEnd(15),
    req.padEnd(28),
    d.event?.reason ?? '',
  ].join('  ');
}

function client(conn: EsConnectionConfig): Client {
  return new Client({ ...esClientOptions(conn, 'audit'), maxRetries: 1, requestTimeout: 30_000 });
}

/** Whether the pattern names at least one index or data stream (a 404 or an empty answer: none). */
async function indexMatches(es: Client, index: string): Promise<boolean> {
  try {
    const found = await es.indices.get({ index, allow_no_indices: false });
    return Object.keys(found).length > 0;
  } catch (err) {
    if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return false;
    throw err;
  }
}

export function register(program: Command): void {
  program
    .command('search')
    .description("search audit events (query string syntax, e.g. 'user.id:alice AND event.action:token-rejected')")
    .argument('[query]', 'query string; empty = everything', '')
    .option('--since <duration>', 'only the last 30s / 15m / 2h / 7d', parseSince)
    .option('--from <time>', 'start (ISO 8601 or date math like now-1d)')
    .option('--to <time>', 'end (ISO 8601 or date math)', undefined)
    .option(
      '--size <n>',
      'show the newest n matches (printed oldest first, so the newest is last)',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('1..10000');
        return n;
      },
      50,
    )
    .option('--index <pattern>', 'index, data stream or pattern', EVENTS_INDEX_PATTERN)
    .option('--alerts', `search alerts instead of events (${ALERTS_INDEX_PATTERN})`)
    .option('--json', 'one JSON document per line')
    .option('--follow', 'keep printing new matches (every 2 s) until interrupted')
    .option('--es-url <url>', 'Elasticsearch URL (default: AUDIT_ES_URL or http://127.0.0.1:9200; credentials and CA from AUDIT_ES_*)')
    .option('--api-key <key>', 'Elasticsearch API key (default: AUDIT_ES_API_KEY)')
    .action(
      async (
        query: string,
        o: {
          since?: string;
          from?: string;
          to?: string;
          size: number;
          index: string;
          alerts?: boolean;
          json?: boolean;
          follow?: boolean;
          esUrl?: string;
          apiKey?: string;
        },
      ) => {
        const conn = esConnection({ ...(o.esUrl !== undefined ? { esUrl: o.esUrl } : {}), ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}) });
        const es = client(conn);
        const index = o.alerts ? ALERTS_INDEX_PATTERN : o.index;
        const from = o.since ?? o.from;
        const filter: estypes.QueryDslQueryContainer[] = [];
        if (from || o.to) filter.push({ range: { '@timestamp': { ...(from ? { gte: from } : {}), ...(o.to ? { lte: o.to } : {}) } } });
        const must: estypes.QueryDslQueryContainer[] = query.trim() ? [{ query_string: { query, default_operator: 'AND' } }] : [];
        const print = (docs: { _id?: string; _source?: unknown }[]) => {
          for (const h of docs) {
            const d = h._source as SearchRow;
            process.stdout.write(o.json ? `${JSON.stringify(d)}\n` : `${o.alerts ? formatAlertRow(d as AlertRow) : formatRow(d)}\n`);
          }
        };
        try {
          // An index pattern that matches nothing is a mistake (or nothing was indexed yet), not "0 matches".
          if (!(await indexMatches(es, index))) {
            process.stderr.write(`audit search: no index or data stream matches ${index}: nothing has been indexed there yet, or --index is wrong\n`);
            process.exitCode = EXIT.failed;
            return;
          }
          const res = await es.search({
            index,
            size: o.size,
            sort: [{ '@timestamp': 'desc' }],
            query: { bool: { must, filter } },
            ignore_unavailable: true,
            allow_no_indices: true,
            track_total_hits: true,
          });
          const hits = [...res.hits.hits].reverse();
          if (!o.json) process.stdout.write(`${o.alerts ? ALERT_HEADER : EVENT_HEADER}\n`);
          print(hits);
          const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? hits.length);
          if (!o.json) process.stderr.write(`${hits.length} shown of ${total} matching\n`);
          if (!o.follow) return;
          const seen = new Set(hits.map((h) => h._id));
          let last = (hits.at(-1)?._source as SearchRow | undefined)?.['@timestamp'] ?? new Date().toISOString();
          for (;;) {
            await new Promise((r) => setTimeout(r, 2_000));
            const more = await es.search({
              index,
              size: 1000,
              sort: [{ '@timestamp': 'asc' }],
              query: { bool: { must, filter: [{ range: { '@timestamp': { gte: last } } }] } },
              ignore_unavailable: true,
              allow_no_indices: true,
            });
            const fresh = more.hits.hits.filter((h) => !seen.has(h._id));
            for (const h of fresh) seen.add(h._id);
            print(fresh);
            last = (fresh.at(-1)?._source as SearchRow | undefined)?.['@timestamp'] ?? last;
          }
        } catch (err) {
          const refused = await esRefused(err, conn);
          if (refused) {
            process.stderr.write(`audit search: ${refused}\n`);
            process.exitCode = EXIT.usage;
            return;
          }
          const e = err as { meta?: { statusCode?: number; body?: { error?: { reason?: string; root_cause?: { reason?: string }[] } } }; message: string };
          // a query that fails on the shards is "all shards failed" at the top: the root cause says why
          const reason = e.meta?.body?.error?.root_cause?.[0]?.reason ?? e.meta?.body?.error?.reason ?? e.message;
          process.stderr.write(`audit search: ${reason}\n`);
          process.exitCode = e.meta?.statusCode === 400 ? EXIT.usage : EXIT.unavailable;
        } finally {
          await es.close();
        }
      },
    );
}
