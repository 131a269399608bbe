import { compileRoutes, RouteConfigError, trustedProxyProblems } from '@jwt-audit/edge';
import type { InterceptorConfig } from './config.js';

/**
 * The checks a JSON Schema cannot make (the route table's meaning, trusted-proxy entries, a key
 * source), all of them, so a configuration's problems surface together (AUDIT_ERR_CONFIG) rather
 * than one per start. createInterceptor runs it first; a service scaffold can run it after the
 * schema check.
 */
export function interceptorConfigProblems(config: InterceptorConfig, o: { serve?: boolean } = {}): string[] {
  const problems: string[] = [];
  try {
    compileRoutes(config.routes, {
      upstreams: config.upstreams,
      mode: config.mode,
      onSpoolFull: config.onSpoolFull,
      methods: config.methods,
      ambiguousPaths: config.paths.ambiguous,
      requireUpstream: o.serve !== false,
    });
  } catch (err) {
    if (!(err instanceof RouteConfigError)) throw err;
    problems.push(...err.problems);
  }
  problems.push(...trustedProxyProblems(config.trustedProxies));
  if (!config.jwt.jwksUrl && !(config.jwt.keys && config.jwt.keys.length > 0)) problems.push('jwt: set jwksUrl or keys');
  return problems;
}
