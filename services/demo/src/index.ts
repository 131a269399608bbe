export { startAuthServer, DEMO_USERS, DEMO_CLIENTS, type AuthServer, type AuthServerOptions } from './auth-server.js';
export { demoInterceptorConfig, demoInterceptorEnv } from './interceptor-routes.js';
export { startUpstream, type Upstream } from './upstream.js';
export { startWebhookReceiver } from './webhook-receiver.js';
