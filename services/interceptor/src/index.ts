export { createInterceptor, type Interceptor, type InterceptorDeps } from './service.js';
export { interceptHandler, expressMiddleware, fastifyPlugin, canonicalUrl, type AuthInfo, type InterceptorCore } from './middleware.js';
export { configSchema, defaults, env, type InterceptorConfig, type RouteConfig, type Mode } from './config.js';
export { audit, tokenEvent, exchangeEvent, type Exchange, type AuthResult } from './audit.js';
export { signIngestBody } from './ingest.js';
export { installProcessGuards } from './process-guards.js';
export { parseTraceparent, hopTrace } from './trace.js';
export { networkOf, trustedProxies } from './client-ip.js';
export { Spool, encodeRecord, decodeRecords, type SpoolRecord } from './spool.js';
