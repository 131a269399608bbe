/**
 * ApiVersions (key 18), versions 0-4 (ApiVersionsRequest.json / ApiVersionsResponse.json; flexible from v3).
 *   Request v0-2: (empty);  v3+: client_software_name COMPACT_STRING, client_software_version COMPACT_STRING
 *   Response: error_code INT16, [api_keys: api_key INT16, min_version INT16, max_version INT16],
 *             v1+ throttle_time_ms INT32 (v3+: compact array, tagged fields; the feature tags are left out)
 *   The response header is v0 at every version (KIP-511), so a client can read it before it
 *   knows which versions the broker has.
 * A request for a version above 4 is answered in v0 format with UNSUPPORTED_VERSION and the list,
 * as Kafka does, so the client can retry with a version both sides know.
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';
import type { Writer } from './primitives.js';

export function writeApiVersions(w: Writer, apis: ApiDefinition[], version: number, errorCode: number): void {
  const f = version >= 3;
  w.int16(errorCode);
  w.arr(
    f,
    [...apis].sort((a, b) => a.key - b.key),
    (x, a) => x.int16(a.key).int16(a.minVersion).int16(a.maxVersion).tags(f),
  );
  if (version >= 1) w.int32(0);
  w.tags(f);
}

export function apiVersionsApi(all: () => ApiDefinition[]): ApiDefinition {
  return {
    key: 18,
    name: 'ApiVersions',
    minVersion: 0,
    maxVersion: 4,
    flexibleVersion: 3,
    handle: (r, w, meta) => {
      if (meta.flexible) {
        r.str(true);
        r.str(true);
        r.tags(true);
      }
      writeApiVersions(w, all(), meta.apiVersion, ErrorCode.NONE);
    },
  };
}
