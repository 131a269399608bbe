import { Client, type estypes } from '@elastic/elasticsearch';
import { esClientOptions, RUNTIME_ERRORS, type EsConnectionConfig } from '@jwt-audit/runtime';
import { ALERT_FIELDS } from '@jwt-audit/ecs';
import { histogramInterval, searchQuery, type SearchParams } from './search-query.js';
import { SF, sessionScope, sessionsQuery, sessionView, type SessionParams, type SessionView } from './session-query.js';

/** What the pages read from Elasticsearch (the embedded node or a real cluster: the same client). */

export type Doc = Record<string, unknown> & { '@timestamp'?: string };
export interface Hit {
  id: string;
  index: string;
  doc: Doc;
}

export interface SearchResult {
  total: number;
  hits: Hit[];
  histogram: { intervalMs: number; buckets: [number, number][] };
  /** The span the histogram covers (epoch ms). */
  span: { from: number; to: number } | undefined;
}

export type TimelineKey = 'subject' | 'session' | 'family';
export const TIMELINE_FIELDS: Record<TimelineKey, { event: string; alert: string }> = {
  subject: { event: 'user.id', alert: 'user.id' },
  session: { event: 'jwt_audit.session_id', alert: 'jwt_audit.alert.session_id' },
  family: { event: 'jwt_audit.token.family_id', alert: 'jwt_audit.token.family_id' },
};
/** A timeline holds at most this many entries (the oldest first); the page says when it was cut. */
export const TIMELINE_MAX = 2_000;

export interface Reader {
  search(s: SearchParams): Promise<SearchResult>;
  /** Streams every match (oldest first) in pages, for export. */
  scan(s: SearchParams, onPage: (hits: Hit[]) => Promise<void> | void, max: number): Promise<number>;
  get(id: string): Promise<Hit | undefined>;
  timeline(key: TimelineKey, value: string): Promise<{ events: Hit[]; alerts: Hit[]; truncated: boolean }>;
  /** The sessionizer's summaries, newest start first. */
  sessions(s: SessionParams): Promise<{ total: number; sessions: SessionView[] }>;
  /** One session's summary and its timeline: the events and alerts of its key over its span. */
  sessionTimeline(id: string): Promise<{ session: SessionView; events: Hit[]; alerts: Hit[]; truncated: boolean } | undefined>;
  alerts(
    filter: { severity?: string; rule?: string },
    size: number,
  ): Promise<{ total: number; hits: Hit[]; bySeverity: Record<string, number>; byRule: Record<string, number> }>;
  close(): Promise<void>;
  readonly es: Client;
}

const num = (t: estypes.SearchTotalHits | number | undefined, dflt: number) => (typeof t === 'number' ? t : (t?.value ?? dflt));
const toHit = (h: estypes.SearchHit<Doc>): Hit => ({ id: h._id!, index: h._index, doc: h._source ?? {} });

/** The fields of the Search page's result table (pages.ts resultRow): all a row reads of its event. */
const ROW_FIELDS = [
  '@timestamp',
  'event.action',
  'event.outcome',
  'event.reason',
  'jwt_audit.token.typ',
  'jwt_audit.token.client_id',
  'user.id',
  'source.ip',
  'http.request.method',
  'url.path',
  'http.response.status_code',
  'jwt_audit.attributes',
];

/** A missing index is an empty answer, not an error: nothing was indexed yet. */
const common = { ignore_unavailable: true, allow_no_indices: true } as const;

const alertField = (p: string) => {
  if (!ALERT_FIELDS.has(p)) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(`console: the alerts index template has no ${p}`);
  return p;
};
const ALERT_KEY = {
  sessionId: alertField('jwt_audit.alert.session_id'),
  familyId: alertField('jwt_audit.token.family_id'),
  subject: alertField('user.id'),
  clientId: alertField('jwt_audit.token.client_id'),
};

export function createReader(conn: EsConnectionConfig, indices: { events: string; alerts: string; sessions: string }): Reader {
  const es = new Client({ ...esClientOptions(conn, 'console'), maxRetries: 1, requestTimeout: 30_000 });
  return {
    es,
    /**
     * The Search page asks for what it shows, and as few times as it can: the embedded node
     * evaluates the query anew for every request, and over a day of 1M events that evaluation is
     * most of the time (bench/page-load.ts: a histogram-first, rows-in-the-newest-buckets variant
     * was 1.6x slower than one request, for all its smaller sort). So one request holds the rows
     * (`_source` cut to the table's columns) and the histogram, and no count: the histogram's
     * buckets cover every match, so they sum to the exact total. Without both ends of a range the
     * span comes first (min/max with the rows, then the histogram alone).
     */
    async search(s) {
      const query = searchQuery(s);
      const rows = { size: s.size, from: (s.page - 1) * s.size, sort: [{ '@timestamp': 'desc' as const }], _source: { includes: ROW_FIELDS } };
      const over = (span: { from: number; to: number }, intervalMs: number) => ({
        over_time: {
          date_histogram: { field: '@timestamp', fixed_interval: `${intervalMs / 1000}s`, min_doc_count: 0, extended_bounds: { min: span.from, max: span.to } },
        },
      });
      const bucketsOf = (r: estypes.SearchResponse<Doc>) =>
        ((r.aggregations?.over_time as { buckets?: { key: number; doc_count: number }[] } | undefined)?.buckets ?? []).map(
          (b) => [b.key, b.doc_count] as [number, number],
        );
      if (s.from !== undefined && s.to !== undefined) {
        const span = { from: s.from, to: s.to };
        const intervalMs = histogramInterval(span.to - span.from);
        const r = await es.search<Doc>({ index: indices.events, ...rows, query, track_total_hits: false, aggs: over(span, intervalMs), ...common });
        const buckets = bucketsOf(r);
        return { total: buckets.reduce((n, b) => n + b[1], 0), hits: r.hits.hits.map(toHit), histogram: { intervalMs, buckets }, span };
      }
      const first = await es.search<Doc>({
        index: indices.events,
        ...rows,
        query,
        track_total_hits: true,
        aggs: { lo: { min: { field: '@timestamp' } }, hi: { max: { field: '@timestamp' } } },
        ...common,
      });
      const lo = (first.aggregations?.lo as { value?: number | null } | undefined)?.value;
      const hi = (first.aggregations?.hi as { value?: number | null } | undefined)?.value;
      const span = typeof lo === 'number' && typeof hi === 'number' ? { from: lo, to: hi } : undefined;
      const intervalMs = histogramInterval(span ? span.to - span.from : 3_600_000);
      const buckets = span
        ? bucketsOf(await es.search<Doc>({ index: indices.events, size: 0, query, track_total_hits: false, aggs: over(span, intervalMs), ...common }))
        : [];
      return { total: num(first.hits.total, first.hits.hits.length), hits: first.hits.hits.map(toHit), histogram: { intervalMs, buckets }, span };
    },
    async scan(s, onPage, max) {
      // search_after on (@timestamp, event.id): stable paging without a scroll context to clean up
      let after: estypes.SortResults | undefined;
      let n = 0;
      while (n < max) {
        const r = await es.search<Doc>({
          index: indices.events,
          size: Math.min(1000, max - n),
          sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
          query: searchQuery(s),
          ...(after ? { search_after: after } : {}),
          ...common,
        });
        const hits = r.hits.hits;
        if (hits.length === 0) break;
        await onPage(hits.map(toHit));
        n += hits.length;
        after = hits[hits.length - 1]!.sort;
        if (!after) break;
      }
      return n;
    },
    async get(id) {
      const r = await es.search<Doc>({ index: `${indices.events},${indices.alerts}`, size: 1, query: { ids: { values: [id] } }, ...common });
      const h = r.hits.hits[0];
      return h ? toHit(h) : undefined;
    },
    async timeline(key, value) {
      const f = TIMELINE_FIELDS[key];
      const [ev, al] = await Promise.all([
        es.search<Doc>({ index: indices.events, size: TIMELINE_MAX + 1, sort: [{ '@timestamp': 'asc' }], query: { term: { [f.event]: value } }, ...common }),
        es.search<Doc>({ index: indices.alerts, size: 200, sort: [{ '@timestamp': 'asc' }], query: { term: { [f.alert]: value } }, ...common }),
      ]);
      const events = ev.hits.hits.map(toHit);
      return { events: events.slice(0, TIMELINE_MAX), alerts: al.hits.hits.map(toHit), truncated: events.length > TIMELINE_MAX };
    },
    async sessions(s) {
      const r = await es.search<Doc>({
        index: indices.sessions,
        size: s.size,
        from: (s.page - 1) * s.size,
        sort: [{ [SF.startedAt]: 'desc' }],
        query: sessionsQuery(s),
        track_total_hits: true,
        ...common,
      });
      return { total: num(r.hits.total, r.hits.hits.length), sessions: r.hits.hits.map((h) => sessionView(h._id!, h._source ?? {})) };
    },
    async sessionTimeline(id) {
      const r = await es.search<Doc>({ index: indices.sessions, size: 1, query: { ids: { values: [id] } }, ...common });
      const h = r.hits.hits[0];
      if (!h) return undefined;
      const session = sessionView(h._id!, h._source ?? {});
      const scope = sessionScope(session, ALERT_KEY);
      const [ev, al] = await Promise.all([
        es.search<Doc>({ index: indices.events, size: TIMELINE_MAX + 1, sort: [{ '@timestamp': 'asc' }], query: scope.events, ...common }),
        es.search<Doc>({ index: indices.alerts, size: 200, sort: [{ '@timestamp': 'asc' }], query: scope.alerts, ...common }),
      ]);
      const events = ev.hits.hits.map(toHit);
      return { session, events: events.slice(0, TIMELINE_MAX), alerts: al.hits.hits.map(toHit), truncated: events.length > TIMELINE_MAX };
    },
    async alerts(filter, size) {
      const f: estypes.QueryDslQueryContainer[] = [];
      if (filter.severity) f.push({ term: { 'jwt_audit.alert.severity': filter.severity } });
      if (filter.rule) f.push({ term: { 'rule.name': filter.rule } });
      const r = await es.search<Doc>({
        index: indices.alerts,
        size,
        sort: [{ '@timestamp': 'desc' }],
        query: { bool: { filter: f } },
        track_total_hits: true,
        aggs: { severity: { terms: { field: 'jwt_audit.alert.severity', size: 10 } }, rule: { terms: { field: 'rule.name', size: 100 } } },
        ...common,
      });
      const terms = (name: string) =>
        Object.fromEntries(
          ((r.aggregations?.[name] as { buckets?: { key: string; doc_count: number }[] } | undefined)?.buckets ?? []).map((b) => [b.key, b.doc_count]),
        );
      return { total: num(r.hits.total, r.hits.hits.length), hits: r.hits.hits.map(toHit), bySeverity: terms('severity'), byRule: terms('rule') };
    },
    close: () => es.close(),
  };
}
