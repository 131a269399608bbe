export { enrich, type EnrichmentLookups } from './enrich.js';
export { DEFAULT_ENRICHMENT_POLICY, enrichmentPolicySchema, parseEnrichmentPolicy, type EnrichmentPolicy, type RouteScopeRule } from './policy.js';
export { classifyIp, inspectIp, normaliseIp, type IpClass } from './ip.js';
export { parseUserAgent, createUserAgentCache } from './user-agent.js';
export { openGeoDatabases, geoFromReader, asnFromReader, type GeoLookup, type AsnLookup } from './geo.js';
export { checkAuthorization } from './authorization.js';
export { tokenTiming, type TokenTiming } from './token-timing.js';
export { createSessionIndex, correlateSession, type SessionIndex } from './session.js';
export { ENRICHMENT_ERRORS } from './errors.js';
