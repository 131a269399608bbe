/**
 * Which recorded exchanges a replay covers: one session, one subject over a time range, or a list
 * of event ids, read from the event index in recorded order. An exchange's record is its
 * `http.exchange` event (routes without authentication, and what a client refused at the edge was
 * answered) or its `token.validated` event (a proxied request with a valid token is that one
 * record, request and response: packages/edge exchange-events.ts); `token.rejected` holds the
 * request only and is followed by the http.exchange of the same request, which is the one taken.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { ecsAction } from '@jwt-audit/ecs';
import type { ExchangeDocument } from './plan.js';

export type Selector = { kind: 'session'; session: string } | { kind: 'subject'; subject: string } | { kind: 'events'; ids: string[] };

export interface Selection {
  selector: Selector;
  /** epoch ms, inclusive */
  since?: number;
  until?: number;
}

export const EXCHANGE_KINDS = ['http.exchange', 'token.validated'];
/** The same kinds as ECS event.action writes them (`http-exchange`). */
export const EXCHANGE_ACTIONS = EXCHANGE_KINDS.map(ecsAction);

export function describeSelection(s: Selection): string {
  const what =
    s.selector.kind === 'session'
      ? `session ${s.selector.session}`
      : s.selector.kind === 'subject'
        ? `subject ${s.selector.subject}`
        : `${s.selector.ids.length} event${s.selector.ids.length === 1 ? '' : 's'}`;
  const range =
    s.since !== undefined || s.until !== undefined
      ? ` from ${s.since !== undefined ? new Date(s.since).toISOString() : 'the start'} to ${s.until !== undefined ? new Date(s.until).toISOString() : 'now'}`
      : '';
  return what + range;
}

export function selectionQuery(s: Selection): estypes.QueryDslQueryContainer {
  const filter: estypes.QueryDslQueryContainer[] = [{ terms: { 'event.action': EXCHANGE_ACTIONS } }, { exists: { field: 'http.request.method' } }];
  if (s.selector.kind === 'session') filter.push({ term: { 'jwt_audit.session_id': s.selector.session } });
  else if (s.selector.kind === 'subject') filter.push({ term: { 'user.id': s.selector.subject } });
  else filter.push({ ids: { values: s.selector.ids } });
  if (s.since !== undefined || s.until !== undefined) {
    filter.push({
      range: {
        '@timestamp': {
          ...(s.since !== undefined ? { gte: new Date(s.since).toISOString() } : {}),
          ...(s.until !== undefined ? { lte: new Date(s.until).toISOString() } : {}),
        },
      },
    });
  }
  return { bool: { filter } };
}

export interface Recorded {
  id: string;
  doc: ExchangeDocument;
}

/**
 * The selected exchanges, oldest first (recorded request start, then event id: ids are UUIDv7,
 * time-ordered within a millisecond), at most `limit`, and how many matched in all.
 */
export async function selectExchanges(
  es: Client,
  index: string,
  s: Selection,
  limit: number,
): Promise<{ exchanges: Recorded[]; total: number; missing: string[] }> {
  const res = await es.search<ExchangeDocument>({
    index,
    size: limit,
    query: selectionQuery(s),
    sort: [{ '@timestamp': 'asc' }],
    track_total_hits: true,
    ignore_unavailable: true,
    allow_no_indices: true,
  });
  const exchanges = res.hits.hits.filter((h) => h._source).map((h) => ({ id: h._id!, doc: h._source! }));
  exchanges.sort((a, b) => {
    const ta = Date.parse(a.doc['@timestamp'] ?? '') || 0;
    const tb = Date.parse(b.doc['@timestamp'] ?? '') || 0;
    return ta - tb || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  });
  const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? exchanges.length);
  const found = new Set(exchanges.map((e) => e.id));
  const missing = s.selector.kind === 'events' ? s.selector.ids.filter((id) => !found.has(id)) : [];
  return { exchanges, total, missing };
}
