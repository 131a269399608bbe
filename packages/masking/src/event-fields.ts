/**
 * Every string field of the audit event (schemas/avro/audit-event.avsc) and what the masker does
 * with it. `event-fields.test.ts` walks the Avro schema and fails when a string field is missing
 * here or from the table in the README: a new field cannot be added unmasked.
 *
 * Paths: record fields dotted, `[]` for the items of an array, `{key}` / `{value}` for the keys and
 * values of a map. `http.*.body.*` stands for the request and the response body (one Avro type).
 */
import type { ShapeName } from './shapes.js';

export type Treatment =
  /** free text: key=value pairs with sensitive key words, then the detectors (decoded once) */
  | { kind: 'text' }
  /** a strict shape, and no detector may fire on it; otherwise a keyed fingerprint, flagged */
  | { kind: 'shape'; shape: ShapeName }
  /** as `shape`, and when the token's signature did not verify always a keyed fingerprint */
  | { kind: 'claim'; shape: ShapeName; fingerprintUnverified: boolean }
  | { kind: 'headers' }
  | { kind: 'query' }
  | { kind: 'body' }
  | { kind: 'mediaType' }
  | { kind: 'attributeKey' }
  | { kind: 'attributeValue' }
  /** one of a closed set; anything else is a keyed fingerprint, flagged */
  | { kind: 'enum' }
  /** written by the masker itself; what a raw event carries there is replaced */
  | { kind: 'masker' }
  /** written by the enricher after masking; a raw event's enrichment is removed */
  | { kind: 'enricher' };

const shape = (s: ShapeName): Treatment => ({ kind: 'shape', shape: s });
const claim = (s: ShapeName, fingerprintUnverified: boolean): Treatment => ({ kind: 'claim', shape: s, fingerprintUnverified });

export const EVENT_FIELDS: Record<string, Treatment> = {
  id: shape('uuid'),
  kind: { kind: 'enum' },
  'source.service': shape('name'),
  'source.instance': shape('name'),
  'source.environment': shape('name'),
  'actor.sub': shape('identifier'),
  'actor.clientId': shape('identifier'),
  'actor.tenant': shape('identifier'),
  'actor.roles[]': shape('scopeToken'),
  'actor.scopes[]': shape('scopeToken'),
  'token.jti': claim('identifier', true),
  'token.sid': claim('identifier', true),
  'token.iss': claim('urlOrIdentifier', true),
  'token.aud[]': claim('urlOrIdentifier', true),
  'token.kid': claim('identifier', true),
  // unverified: kept only when it is a registered JOSE algorithm (alg_not_allowed needs to say which)
  'token.alg': claim('alg', false),
  'token.familyId': claim('identifier', true),
  'token.fingerprint': shape('hex64'),
  'token.previousFingerprint': shape('hex64'),
  'rejection.detail': { kind: 'text' },
  'key.jwksUrl': shape('url'),
  'key.added[]': shape('identifier'),
  'key.removed[]': shape('identifier'),
  'key.current[]': shape('identifier'),
  'session.id': shape('identifier'),
  'session.reason': { kind: 'text' },
  'approval.id': shape('uuid'),
  'approval.fingerprint': shape('hex64'),
  'approval.requester': shape('identifier'),
  'approval.approvers[]': shape('identifier'),
  'approval.reason': { kind: 'text' },
  'approval.rule': shape('identifier'),
  'http.request.id': shape('identifier'),
  'http.request.method': shape('method'),
  'http.request.scheme': shape('scheme'),
  'http.request.host': shape('host'),
  'http.request.path': { kind: 'text' },
  'http.request.route': { kind: 'text' },
  'http.request.query': { kind: 'query' },
  'http.request.headers{key}': { kind: 'headers' },
  'http.request.headers{value}': { kind: 'headers' },
  'http.*.body.contentType': { kind: 'mediaType' },
  'http.*.body.content': { kind: 'body' },
  'http.*.body.sha256': shape('hex64'),
  'http.response.headers{key}': { kind: 'headers' },
  'http.response.headers{value}': { kind: 'headers' },
  'network.clientIp': shape('ip'),
  'network.forwardedFor[]': shape('forwardedEntry'),
  'network.userAgent': { kind: 'text' },
  'trace.traceparent': shape('traceparent'),
  'trace.tracestate': shape('tracestate'),
  'trace.traceId': shape('traceId'),
  'trace.spanId': shape('spanId'),
  'masking.rulesApplied[]': { kind: 'masker' },
  'masking.policyVersion': { kind: 'masker' },
  'masking.keyId': { kind: 'masker' },
  'enrichment.geo.countryIso': { kind: 'enricher' },
  'enrichment.geo.country': { kind: 'enricher' },
  'enrichment.geo.city': { kind: 'enricher' },
  'enrichment.asn.org': { kind: 'enricher' },
  'enrichment.userAgent.name': { kind: 'enricher' },
  'enrichment.userAgent.version': { kind: 'enricher' },
  'enrichment.userAgent.os': { kind: 'enricher' },
  'enrichment.userAgent.osVersion': { kind: 'enricher' },
  'enrichment.userAgent.device': { kind: 'enricher' },
  'enrichment.ipClass': { kind: 'enricher' },
  'enrichment.authorization.requiredScopes[]': { kind: 'enricher' },
  'enrichment.authorization.missingScopes[]': { kind: 'enricher' },
  'enrichment.sessionId': { kind: 'enricher' },
  'attributes{key}': { kind: 'attributeKey' },
  'attributes{value}': { kind: 'attributeValue' },
};

/**
 * Attributes the pipeline itself writes, with the shape their value must have (anything else is
 * fingerprinted). `token.claimedSub` names what an unverified token claimed: always fingerprinted.
 */
export const KNOWN_ATTRIBUTES: Record<string, ShapeName | 'fingerprint' | readonly string[]> = {
  mode: ['enforce', 'observe'],
  'token.signatureVerified': ['true', 'false'],
  'token.claimedSub': 'fingerprint',
  'auth.rejection': 'identifier',
  'authorization.missingScopes': 'scopeList',
  'ingest.principal': 'identifier',
  providerEventId: 'identifier',
};
