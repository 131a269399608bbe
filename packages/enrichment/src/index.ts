export { enrich, classifyIp, parseUserAgent, DEFAULT_ENRICHMENT_POLICY, type Lookups, type EnrichmentPolicy } from './enrich.js';
export { openMaxmind } from './maxmind.js';
