/**
 * A replayed response against the recorded one: status, size, SHA-256 of the body where the index
 * holds it, and the body itself where it was captured whole (a structural JSON diff for JSON,
 * text equality otherwise, masks standing for whatever they replaced). Pure.
 */
import { diffJson, fitsMasked, hasMask, type JsonDifference } from './json-diff.js';
import type { RecordedResponse } from './plan.js';

export interface ReplayedResponse {
  status: number;
  size: number;
  sha256: string;
  /** The body as UTF-8 text. */
  text: string;
  contentType: string | null;
}

export type DifferenceKind = 'status' | 'size' | 'sha256' | 'body' | 'json';

export interface Difference {
  kind: DifferenceKind;
  message: string;
  recorded?: unknown;
  replayed?: unknown;
  /** kind `json`: the structural differences (RFC 6902 operations with JSON Pointer paths). */
  json?: JsonDifference[];
}

export interface Comparison {
  match: boolean;
  differences: Difference[];
  /** What was compared: `status`, `size`, `sha256`, `json`, `text`. */
  compared: string[];
  /** JSON Pointers of masked recorded values that were not compared. */
  masked: string[];
  /** Why a part could not be compared (body not captured, truncated ...). */
  notes: string[];
}

const isJsonType = (t: string | null) => t !== null && /^application\/(?:[\w.+-]+\+)?json\b/i.test(t);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export function compareResponse(recorded: RecordedResponse | null, replayed: ReplayedResponse): Comparison {
  const c: Comparison = { match: true, differences: [], compared: [], masked: [], notes: [] };
  const differ = (d: Difference) => {
    c.match = false;
    c.differences.push(d);
  };
  if (!recorded) {
    c.notes.push('no response was recorded (the upstream did not answer): nothing to compare');
    return c;
  }
  c.compared.push('status');
  if (recorded.status !== replayed.status)
    differ({ kind: 'status', message: `status ${recorded.status} -> ${replayed.status}`, recorded: recorded.status, replayed: replayed.status });
  if (recorded.size !== null) {
    c.compared.push('size');
    if (recorded.size !== replayed.size)
      differ({ kind: 'size', message: `size ${recorded.size} -> ${replayed.size} bytes`, recorded: recorded.size, replayed: replayed.size });
  }
  if (recorded.sha256 !== null) {
    c.compared.push('sha256');
    if (recorded.sha256 !== replayed.sha256)
      differ({
        kind: 'sha256',
        message: `body SHA-256 ${recorded.sha256.slice(0, 12)}… -> ${replayed.sha256.slice(0, 12)}…`,
        recorded: recorded.sha256,
        replayed: replayed.sha256,
      });
  }
  if (recorded.content === null) {
    c.notes.push(
      recorded.truncated
        ? 'response body truncated when recorded: compared by size and SHA-256 only'
        : recorded.sha256 !== null
          ? 'response body was binary: compared by size and SHA-256 only'
          : 'response body not captured: compared by status and size only',
    );
    return c;
  }
  const rec = isJsonType(recorded.contentType) || isJsonType(replayed.contentType) ? parseJson(recorded.content) : { ok: false as const };
  if (rec.ok) {
    c.compared.push('json');
    const got = parseJson(replayed.text);
    if (!got.ok) {
      differ({ kind: 'json', message: 'the replayed body is not JSON', recorded: recorded.content, replayed: replayed.text.slice(0, 200) });
      return c;
    }
    const diff = diffJson(rec.value, got.value);
    c.masked = diff.masked;
    if (!diff.equal)
      differ({ kind: 'json', message: `${diff.differences.length} JSON difference${diff.differences.length === 1 ? '' : 's'}`, json: diff.differences });
    return c;
  }
  c.compared.push('text');
  if (!fitsMasked(recorded.content, replayed.text))
    differ({ kind: 'body', message: 'body text differs', recorded: recorded.content.slice(0, 200), replayed: replayed.text.slice(0, 200) });
  else if (hasMask(recorded.content)) c.masked.push('');
  return c;
}
