/**
 * Strict shapes of the identifier-like fields. The ones an ingest client can send come from
 * schemas/json/shapes.json, the same definitions the ingest API validates with (one source of
 * truth: a value the API accepts is a value the masker keeps); the ones only the interceptor
 * writes (request id, host, method, IPs, trace context) are defined here.
 */
import { isIP } from 'node:net';
import { readSchemaFile } from '@jwt-audit/events';
import { RUNTIME_ERRORS } from '@jwt-audit/runtime';

interface ShapeDef {
  pattern?: string;
  anyOf?: Array<{ $ref: string }>;
}
const defs = (readSchemaFile('json/shapes.json') as { definitions: Record<string, ShapeDef> }).definitions;
const fromSchema = (name: string): RegExp => {
  const d = defs[name];
  if (!d?.pattern) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(`schemas/json/shapes.json: no pattern for ${name}`);
  return new RegExp(d.pattern);
};

export type ShapeName =
  | 'identifier'
  | 'name'
  | 'scopeToken'
  | 'url'
  | 'urlOrIdentifier'
  | 'alg'
  | 'attributeKey'
  | 'hex64'
  | 'uuid'
  | 'method'
  | 'scheme'
  | 'host'
  | 'ip'
  | 'forwardedEntry'
  | 'traceparent'
  | 'tracestate'
  | 'traceId'
  | 'spanId'
  | 'headerName'
  | 'ruleId'
  | 'scopeList';

const identifier = fromSchema('identifier');
const url = fromSchema('url');
const SCOPE = fromSchema('scopeToken');
const re = (r: RegExp) => (s: string) => r.test(s);

/** RFC 9110 token (methods, header names), bounded. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
/** A DNS name or an IP literal, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export const SHAPES: Record<ShapeName, (s: string) => boolean> = {
  identifier: re(identifier),
  name: re(fromSchema('name')),
  scopeToken: re(SCOPE),
  url: re(url),
  urlOrIdentifier: (s) => url.test(s) || identifier.test(s),
  alg: re(fromSchema('alg')),
  attributeKey: re(fromSchema('attributeKey')),
  hex64: re(fromSchema('hex64')),
  uuid: re(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  method: re(/^[A-Z]{1,16}$/),
  scheme: re(/^(?:http|https)$/),
  host: (s) => s.length <= 260 && HOST.test(s) && (!s.startsWith('[') || isIP(s.slice(1, s.indexOf(']'))) === 6),
  ip: (s) => isIP(s) !== 0,
  // X-Forwarded-For / Forwarded entries: an address, `unknown`, or an RFC 7239 obfuscated id
  forwardedEntry: (s) => isIP(s) !== 0 || s === 'unknown' || /^_[A-Za-z0-9._-]{1,32}$/.test(s),
  traceparent: re(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/),
  // W3C list of up to 32 key=value members; keys lower-case, values printable without , and =
  tracestate: (s) =>
    s.length <= 512 &&
    /^(?:[a-z0-9][a-z0-9_*/@-]{0,255}=[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,256})(?:\s*,\s*[a-z0-9][a-z0-9_*/@-]{0,255}=[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,256}){0,31}$/.test(
      s,
    ),
  traceId: re(/^[0-9a-f]{32}$/),
  spanId: re(/^[0-9a-f]{16}$/),
  headerName: re(TOKEN),
  ruleId: re(/^[a-z-]+:[A-Za-z0-9._~:@|+*/{}[\]-]{1,160}:(?:redact|hash|partial|drop|dropped|fingerprint)$/),
  scopeList: (s) => s === '' || s.split(' ').every((t) => SCOPE.test(t)),
};
