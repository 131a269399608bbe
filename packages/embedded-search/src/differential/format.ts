/**
 * The differential corpus: requests sent to a real Elasticsearch and to the embedded node, and the
 * real node's recorded answers.
 *
 * A case file (cases/<suite>.json) is one suite:
 * {
 *   "suite": "search",                       // name of the file
 *   "recordedFrom": "8.12.2",                // version of the Elasticsearch that answered
 *   "cleanup": [Request...],                 // sent before recording only (never compared)
 *   "cases": [{
 *     "id": "search/term/user.id=alice",     // unique in the corpus
 *     "requests": [Request...],              // sent in order
 *     "recorded": [{ "status": 200, "body": {...} }...],  // one per request, written by the recorder
 *   }]
 * }
 * Request = { method, path, body?, ndjson?: true (body is an array of lines), ignore?: [path...],
 *             unordered?: true (hits compared as a set: the query defines no order),
 *             capture?: { name: "path.in.body" } (a value of this answer, e.g. a PIT or scroll id,
 *             that later requests of the same case use as {{name}} in their path or body) }.
 * The cases of a suite run in order on one node, so the first cases of a suite are its setup
 * (templates, bulk loads) and are compared like any other.
 *
 * Comparison (compare.ts): status always; an error body by `error.type` only (reasons are prose);
 * otherwise the body minus the paths that legitimately differ (DEFAULT_IGNORES plus the request's
 * `ignore`, `*` matches one key or array index); backing index dates are masked.
 */
export interface DiffRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  path: string;
  body?: unknown;
  ndjson?: boolean;
  ignore?: string[];
  unordered?: boolean;
  capture?: Record<string, string>;
}

export interface RecordedResponse {
  status: number;
  body: unknown;
}

export interface DiffCase {
  id: string;
  requests: DiffRequest[];
  recorded?: RecordedResponse[];
}

export interface DiffSuite {
  suite: string;
  recordedFrom?: string;
  cleanup: DiffRequest[];
  cases: DiffCase[];
}

/** A recorded difference that is known and explained (known-differences.json). */
export interface KnownDifference {
  id: string;
  kind: string;
  /** Why it differs (written by hand; the test keeps it when it rewrites the list). */
  reason: string;
  /** The first differing path and the two values, as the last run saw them. */
  observed?: string;
}
