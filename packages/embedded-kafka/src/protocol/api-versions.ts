/**
 * ApiVersions (key 18), versions 0-2.
 *   Request v0-v2: (empty)
 *   Response v0:   error_code INT16, [api_key INT16, min_version INT16, max_version INT16]
 *   Response v1-2: v0 + throttle_time_ms INT32
 * A request for a version above 2 is answered in v0 format with UNSUPPORTED_VERSION and the list,
 * as Kafka does, so the client can retry with a version both sides know.
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';
import type { Writer } from './primitives.js';

export function writeApiVersions(w: Writer, apis: ApiDefinition[], version: number, errorCode: number): void {
  w.int16(errorCode);
  w.array(apis, (x, a) => x.int16(a.key).int16(a.minVersion).int16(a.maxVersion));
  if (version >= 1) w.int32(0);
}

export function apiVersionsApi(all: () => ApiDefinition[]): ApiDefinition {
  return {
    key: 18,
    name: 'ApiVersions',
    minVersion: 0,
    maxVersion: 2,
    handle: (_r, w, meta) => writeApiVersions(w, all(), meta.apiVersion, ErrorCode.NONE),
  };
}
