/**
 * Errors in Elasticsearch's own shape, so clients read them as they read a real node's:
 *
 *   HTTP <status>
 *   { "error": { "root_cause": [ {type, reason, ...} ], "type": ..., "reason": ..., ... }, "status": <status> }
 *
 * Every module of the search node throws EsError; the HTTP layer is the only place that renders it.
 */
export class EsError extends Error {
  readonly status: number;
  readonly type: string;
  readonly extra: Record<string, unknown>;

  constructor(status: number, type: string, reason: string, extra: Record<string, unknown> = {}) {
    super(reason);
    this.name = 'EsError';
    this.status = status;
    this.type = type;
    this.extra = extra;
  }

  /** The `error` object of the response body (also used for per-item bulk errors). */
  toCause(): Record<string, unknown> {
    const { nestedTooDeep: _internal, ...extra } = this.extra;
    return { type: this.type, reason: this.message, ...extra };
  }

  toBody(): { error: Record<string, unknown>; status: number } {
    const cause = this.toCause();
    // a search phase failure's root cause is the shard's error, as Elasticsearch reports it
    const root = this.type === 'search_phase_execution_exception' && this.extra.caused_by ? this.extra.caused_by : cause;
    return { error: { root_cause: [root], ...cause }, status: this.status };
  }
}

export const unsupported = (feature: string): EsError => new EsError(400, 'illegal_argument_exception', `unsupported by the embedded search node: ${feature}`);

export const parsingError = (reason: string, extra: Record<string, unknown> = {}): EsError => new EsError(400, 'parsing_exception', reason, extra);

export const indexNotFound = (index: string): EsError =>
  new EsError(404, 'index_not_found_exception', `no such index [${index}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': index,
    index,
  });
