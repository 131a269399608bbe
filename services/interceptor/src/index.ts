export { createInterceptor, type Interceptor, type InterceptorDeps } from './service.js';
export { interceptHandler, expressMiddleware, fastifyPlugin, canonicalUrl, type AuthInfo, type InterceptorCore } from './middleware.js';
export { configSchema, defaults, env, type InterceptorConfig, type RouteConfig, type Mode } from './config.js';
export { interceptorConfigProblems } from './config-problems.js';
// the pure core lives in @jwt-audit/edge; these stay exported here for embedders that imported them from the interceptor
export { tokenEvent, exchangeEvent, parseTraceparent, hopTrace, networkOf, trustedProxies, type Exchange, type AuthResult } from '@jwt-audit/edge';
export { signIngestBody } from './ingest.js';
export { installProcessGuards } from './process-guards.js';
export { Spool, encodeRecord, decodeRecords, type SpoolRecord } from './spool.js';
export { signCallbackBody } from './approval-callback.js';
export { ApprovalGate, approvalRecord, type Redeemed } from './approvals.js';
