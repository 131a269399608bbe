import { Client, type estypes } from '@elastic/elasticsearch';
import { Command, InvalidArgumentError } from 'commander';
import { esClientOptions } from '@jwt-audit/runtime';
import { EXIT } from '../program.js';
import { esConnection, esRefused } from '../connections.js';
import { parseSince } from './search.js';

/**
 * `audit sessions`: the sessionizer's session summaries from the sessions index (one document per
 * session, the newest revision), newest first, filtered by subject, open or not, and activity since.
 */

export interface SessionRow {
  user?: { id?: string };
  /** ECS: start, end, duration (ns) and reason (why it ended) of the session. */
  event?: { start?: string; end?: string; duration?: number; reason?: string };
  jwt_audit?: {
    session?: {
      id?: string;
      basis?: string;
      client_id?: string;
      open?: boolean;
      last_seen_at?: string;
      requests?: number;
      ips?: string[];
      ips_dropped?: number;
      countries?: string[];
      rejections?: number;
      alerts?: number;
      after_end?: number;
    };
  };
}

const time = (iso: string | undefined) => (iso ?? '').replace('T', ' ').replace(/\.\d+Z$|Z$/, '');

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export const SESSION_HEADER = `${'started'.padEnd(19)}  ${'ended'.padEnd(19)}  ${'duration'.padEnd(8)}  ${'user'.padEnd(20)}  ${'client'.padEnd(14)}  ${'basis'.padEnd(14)}  ${'reqs'.padStart(5)}  ${'ips'.padStart(4)}  ${'countries'.padEnd(10)}  ${'alerts'.padStart(6)}  end reason`;

export function formatSessionRow(d: SessionRow): string {
  const s = d.jwt_audit?.session ?? {};
  const e = d.event ?? {};
  const flags = [s.after_end ? `+${s.after_end} after end` : '', s.rejections ? `${s.rejections} rejected` : ''].filter(Boolean).join(', ');
  return [
    time(e.start).padEnd(19),
    (s.open ? 'open' : time(e.end)).padEnd(19),
    formatDuration(e.duration === undefined ? undefined : e.duration / 1e6).padEnd(8),
    (d.user?.id ?? '-').padEnd(20),
    (s.client_id ?? '-').padEnd(14),
    (s.basis ?? '').padEnd(14),
    String(s.requests ?? 0).padStart(5),
    `${s.ips?.length ?? 0}${s.ips_dropped ? '+' : ''}`.padStart(4),
    (s.countries ?? []).join(',').padEnd(10),
    String(s.alerts ?? 0).padStart(6),
    `${e.reason ?? (s.open ? '' : '?')}${flags ? ` (${flags})` : ''}`,
  ].join('  ');
}

function size(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('1..10000');
  return n;
}

function subject(v: string): string {
  if (v.length === 0 || v.length > 1024) throw new InvalidArgumentError('a subject id of 1..1024 characters');
  return v;
}

export function sessionsQuery(o: { subject?: string; open?: boolean; since?: string }): estypes.QueryDslQueryContainer {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (o.subject !== undefined) filter.push({ term: { 'user.id': o.subject } });
  if (o.open) filter.push({ term: { 'jwt_audit.session.open': true } });
  // active since: a session that began earlier but was still seen in the window counts
  if (o.since) filter.push({ range: { 'jwt_audit.session.last_seen_at': { gte: o.since } } });
  return { bool: { filter } };
}

export function register(program: Command): void {
  program
    .command('sessions')
    .description("list sessions (the sessionizer's summaries): start, end and how, duration, IPs, countries, requests, alerts")
    .option('--subject <id>', 'only this subject (user.id)', subject)
    .option('--open', 'only sessions not ended yet')
    .option('--since <duration>', 'only sessions active in the last 30s / 15m / 2h / 7d', parseSince)
    .option('--size <n>', 'at most n sessions, newest first', size, 50)
    .option('--json', 'one JSON session document per line')
    .option('--index <pattern>', 'sessions index or pattern', 'audit-sessions-*')
    .option('--es-url <url>', 'Elasticsearch URL (default: AUDIT_ES_URL or http://127.0.0.1:9200; credentials and CA from AUDIT_ES_*)')
    .option('--api-key <key>', 'Elasticsearch API key (default: AUDIT_ES_API_KEY)')
    .action(async (o: { subject?: string; open?: boolean; since?: string; size: number; json?: boolean; index: string; esUrl?: string; apiKey?: string }) => {
      const conn = esConnection({ ...(o.esUrl !== undefined ? { esUrl: o.esUrl } : {}), ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}) });
      const es = new Client({ ...esClientOptions(conn, 'audit'), maxRetries: 1, requestTimeout: 30_000 });
      try {
        const found = await es.indices.get({ index: o.index, allow_no_indices: false }).then(
          (r) => Object.keys(r).length > 0,
          (err: { meta?: { statusCode?: number } }) => {
            if (err.meta?.statusCode === 404) return false;
            throw err;
          },
        );
        if (!found) {
          process.stderr.write(
            `audit sessions: no index matches ${o.index}: the sessionizer and indexer have not written a session yet, or --index is wrong\n`,
          );
          process.exitCode = EXIT.failed;
          return;
        }
        const res = await es.search({
          index: o.index,
          size: o.size,
          sort: [{ 'event.start': 'desc' }],
          query: sessionsQuery(o),
          ignore_unavailable: true,
          allow_no_indices: true,
          track_total_hits: true,
        });
        const hits = res.hits.hits;
        if (o.json) {
          for (const h of hits) process.stdout.write(`${JSON.stringify(h._source)}\n`);
          return;
        }
        process.stdout.write(`${SESSION_HEADER}\n`);
        for (const h of hits) process.stdout.write(`${formatSessionRow(h._source as SessionRow)}\n`);
        const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? hits.length);
        process.stderr.write(`${hits.length} shown of ${total} matching\n`);
      } catch (err) {
        const refused = await esRefused(err, conn);
        if (refused) {
          process.stderr.write(`audit sessions: ${refused}\n`);
          process.exitCode = EXIT.usage;
          return;
        }
        const e = err as { meta?: { statusCode?: number; body?: { error?: { reason?: string; root_cause?: { reason?: string }[] } } }; message: string };
        process.stderr.write(`audit sessions: ${e.meta?.body?.error?.root_cause?.[0]?.reason ?? e.meta?.body?.error?.reason ?? e.message}\n`);
        process.exitCode = e.meta?.statusCode === 400 ? EXIT.usage : EXIT.unavailable;
      } finally {
        await es.close();
      }
    });
}
