import path from 'node:path';
import { demoInterceptorEnv } from '@jwt-audit/demo';
import type { EsConnectionConfig, KafkaConnectionConfig } from '@jwt-audit/runtime';
import type { ComponentSpec } from './supervisor.js';

/** Where `npm start` puts things; every port and address is configurable through the environment. */
export interface StartSettings {
  root: string;
  dataDir: string;
  host: string;
  kafkaPort: number;
  esPort: number;
  interceptorPort: number;
  authPort: number;
  upstreamPort: number;
  webhookPort: number;
  /** The web console (services/console). */
  consolePort: number;
  /** /metrics + /healthz of each service on consecutive ports from here. */
  opsBasePort: number;
  /** Set: use this Kafka instead of starting the embedded broker. */
  externalKafka: string | undefined;
  /** Set: use this Elasticsearch instead of starting the embedded search node. */
  externalEs: string | undefined;
  /** A service whose /healthz stays unhealthy this long is restarted (ms; 0: never). */
  unhealthyRestartMs: number;
  /** SASL / TLS and Elasticsearch credentials from AUDIT_KAFKA_* / AUDIT_ES_* (brokers and URL: above); the services read the same variables. */
  kafka: KafkaConnectionConfig;
  elasticsearch: EsConnectionConfig;
}

interface Probes {
  waitForHttp(url: string): () => Promise<boolean>;
  waitForPort(port: number, host?: string): () => Promise<boolean>;
}

/**
 * The components of the pipeline in start order (the supervisor stops them in reverse): the
 * infrastructure first (`setup` runs between it and the rest), the edge last.
 */
export function pipelineComponents(s: StartSettings, probe: Probes): { infrastructure: ComponentSpec[]; services: ComponentSpec[] } {
  const brokers = s.externalKafka ?? `${s.host}:${s.kafkaPort}`;
  const esUrl = s.externalEs ?? `http://${s.host}:${s.esPort}`;
  const common: Record<string, string> = { AUDIT_KAFKA_BROKERS: brokers, AUDIT_ES_URL: esUrl, AUDIT_ENVIRONMENT: 'demo' };
  let nextOps = s.opsBasePort;
  const service = (name: string, env: Record<string, string> = {}): ComponentSpec => {
    const port = nextOps++;
    return {
      name,
      script: `services/${name}/src/main.ts`,
      env: { ...common, AUDIT_METRICS_PORT: String(port), AUDIT_METRICS_HOST: s.host, ...env },
      ready: probe.waitForHttp(`http://${s.host}:${port}/healthz`),
      readyTimeoutMs: 90_000,
      // the same probe once it runs: 503 (consumer given up or re-created, dead-letter rate) is unhealthy
      healthy: probe.waitForHttp(`http://${s.host}:${port}/healthz`),
    };
  };
  const edge = `http://${s.host}:${s.interceptorPort}`;
  const infrastructure: ComponentSpec[] = [];
  const out: ComponentSpec[] = [];
  if (!s.externalKafka) {
    infrastructure.push({
      name: 'embedded-kafka',
      script: 'packages/embedded-kafka/src/bin.ts',
      args: ['--dir', path.join(s.dataDir, 'kafka'), '--port', String(s.kafkaPort), '--host', s.host],
      ready: probe.waitForPort(s.kafkaPort, s.host),
    });
  }
  if (!s.externalEs) {
    infrastructure.push({
      name: 'embedded-search',
      script: 'packages/embedded-search/src/bin.ts',
      args: ['--dir', path.join(s.dataDir, 'search'), '--port', String(s.esPort), '--host', s.host],
      ready: probe.waitForHttp(esUrl),
    });
  }
  out.push({
    name: 'demo',
    script: 'services/demo/src/main.ts',
    env: {
      AUDIT_DEMO_AUTH_PORT: String(s.authPort),
      AUDIT_DEMO_UPSTREAM_PORT: String(s.upstreamPort),
      AUDIT_DEMO_WEBHOOK_PORT: String(s.webhookPort),
      AUDIT_DEMO_HOST: s.host,
      AUDIT_DEMO_ISSUER: `${edge}/`,
      AUDIT_DEMO_WEBHOOK_SECRET: 'demo-webhook-secret',
      // kept, so tokens issued before a restart still verify (a new key would make them unknown_kid)
      AUDIT_DEMO_KEY_FILE: path.join(s.dataDir, 'keys', 'demo-idp.private.jwks.json'),
    },
    ready: probe.waitForHttp(`http://${s.host}:${s.authPort}/.well-known/jwks.json`),
  });
  out.push(service('masker', { AUDIT_MASKING_HMAC_KEY_FILE: path.join(s.dataDir, 'keys', 'masking-hmac.key') }));
  out.push(service('enricher'));
  out.push(service('indexer'));
  out.push(service('archiver', { AUDIT_ARCHIVE_DIR: path.join(s.dataDir, 'archive'), AUDIT_ARCHIVE_KEY_DIR: path.join(s.dataDir, 'keys') }));
  out.push(service('anomaly-detector', { AUDIT_DETECTOR_STATE_DIR: path.join(s.dataDir, 'detector') }));
  out.push(service('sessionizer', { AUDIT_SESSIONIZER_STATE_DIR: path.join(s.dataDir, 'sessions') }));
  out.push(service('alert-webhook', { AUDIT_WEBHOOK_URL: `http://${s.host}:${s.webhookPort}/alerts`, AUDIT_WEBHOOK_SECRET: 'demo-webhook-secret' }));
  out.push(
    service('interceptor', {
      AUDIT_INTERCEPTOR_PORT: String(s.interceptorPort),
      AUDIT_INTERCEPTOR_HOST: s.host,
      AUDIT_SPOOL_DIR: path.join(s.dataDir, 'spool'),
      // the demo's route table (services/demo/src/interceptor-routes.ts), as any deployment's configuration
      ...demoInterceptorEnv(`http://${s.host}:${s.authPort}`, `http://${s.host}:${s.upstreamPort}`),
      AUDIT_JWT_ISSUER: `${edge}/`,
      AUDIT_JWT_JWKS_URL: `http://${s.host}:${s.authPort}/.well-known/jwks.json`,
      // the demo traffic generator plays clients behind a proxy on this machine (X-Forwarded-For)
      AUDIT_TRUSTED_PROXIES: '127.0.0.0/8',
    }),
  );
  // last: it reads what the others wrote, and stops first
  out.push({
    name: 'console',
    script: 'services/console/src/main.ts',
    env: {
      ...common,
      AUDIT_CONSOLE_HOST: s.host,
      AUDIT_CONSOLE_PORT: String(s.consolePort),
      AUDIT_ARCHIVE_DIR: path.join(s.dataDir, 'archive'),
      AUDIT_ARCHIVE_JWKS: path.join(s.dataDir, 'keys', 'archive-public.jwks.json'),
      // no identity provider is configured for the console on npm start: a name-only sign-in, said on every page
      AUDIT_CONSOLE_DEMO_LOGIN: 'true',
    },
    ready: probe.waitForHttp(`http://${s.host}:${s.consolePort}/healthz`),
    readyTimeoutMs: 90_000,
    healthy: probe.waitForHttp(`http://${s.host}:${s.consolePort}/healthz`),
  });
  return { infrastructure, services: out };
}
