/**
 * The whole pipeline on the embedded parts, as the cross-service tests need it: the demo IdP and
 * API behind the real interceptor, then masker -> enricher -> indexer / archiver / anomaly
 * detector (and the sessionizer on request), each the service's own create*Service with its
 * defaults. A test picks the stages it needs and adjusts the interceptor's config; everything it
 * starts beside the pipeline goes on `defer` and is stopped first.
 */
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startAuthServer, startUpstream, type AuthServer, type Upstream } from '@jwt-audit/demo';
import { createInterceptor, defaults as interceptorDefaults, type Interceptor, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createArchiverService, archiverDefaults } from '@jwt-audit/archiver';
import { createDetectorService, defaults as detectorDefaults } from '@jwt-audit/anomaly-detector';
import { createSessionizerService, defaults as sessionizerDefaults } from '@jwt-audit/sessionizer';
import { startEmbedded, Stops, type Embedded, type EmbeddedOptions } from './embedded.js';

export type Stage = 'masker' | 'enricher' | 'indexer' | 'archiver' | 'detector' | 'sessionizer';

/** The interceptor's routes most tests use: the IdP's token and revocation endpoints and the demo API's orders. */
export const DEMO_ROUTES: InterceptorConfig['routes'] = [
  { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
  { name: 'revoke', path: '/oauth/revoke', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'revocation' },
  { name: 'orders', path: '/api/orders', methods: ['GET'], upstream: 'api', scopes: ['orders:read'] },
];

/** The demo IdP's web client, as its token endpoint expects it. */
export const DEMO_CLIENT_BASIC = `Basic ${Buffer.from('demo-web:demo-web-secret').toString('base64')}`;

export interface PipelineOptions extends EmbeddedOptions {
  /** the stages to run, default masker, enricher, indexer, archiver, detector */
  stages?: readonly Stage[];
  /** the index namespace (logs-jwt_audit.events-<namespace>) and masking key id; default the name */
  namespace?: string;
  /** the interceptor's config from the fixture's (DEMO_ROUTES, the demo IdP, the embedded broker); false: no interceptor */
  interceptor?: false | ((config: InterceptorConfig) => InterceptorConfig);
}

export interface Pipeline extends Embedded {
  auth: AuthServer;
  upstream: Upstream;
  /** the interceptor's URL ('' without one) */
  edge: string;
  interceptor: Interceptor | undefined;
  namespace: string;
  /** the events index of the indexer */
  index: string;
  /** archive directory, signing keys directory, and the public JWKS the archiver writes there */
  archiveDir: string;
  keysDir: string;
  jwksFile: string;
  es: Client;
  /** a token for a demo user from the IdP, through the edge (or the IdP itself without an interceptor) */
  login(user?: string): Promise<string>;
  /** something the test started beside the pipeline: stopped before the pipeline */
  defer(stop: () => Promise<unknown> | unknown): void;
  /** stops in order: the test's own, the edge, the stages together (each drains its own), the demo servers, the broker and search node */
  stop(): Promise<void>;
}

const ALL_BUT_SESSIONS: readonly Stage[] = ['masker', 'enricher', 'indexer', 'archiver', 'detector'];

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const embedded = await startEmbedded(options);
  const { dir, kafka, logger } = embedded;
  const namespace = options.namespace ?? options.name;
  const own = new Stops();
  const edgeStops = new Stops();
  const stages: { stop(): Promise<void> }[] = [];
  const demo = new Stops();
  const stop = async () => {
    await own.stopAll();
    await edgeStops.stopAll();
    await Promise.all(stages.splice(0).map((s) => s.stop().catch(() => undefined)));
    await demo.stopAll();
    await embedded.stop();
  };
  try {
    const archiveDir = path.join(dir, 'archive');
    const keysDir = path.join(dir, 'keys');
    const make = {
      masker: () =>
        createMaskerService(
          { ...maskerDefaults, kafka: kafka('masker'), ops: {}, hmac: { keyId: namespace, key: `a-${namespace}-test-masking-key` } },
          { logger },
        ),
      enricher: () => createEnricherService({ ...enricherDefaults, kafka: kafka('enricher'), ops: {} }, { logger }),
      indexer: () =>
        createIndexerService({ ...indexerDefaults, kafka: kafka('indexer'), elasticsearch: { url: embedded.esUrl }, ops: {}, namespace }, { logger }),
      archiver: () =>
        createArchiverService(
          {
            ...archiverDefaults,
            kafka: kafka('archiver'),
            ops: {},
            dir: archiveDir,
            keys: { dir: keysDir, generate: true },
            seal: { maxRecords: 1000, maxBytes: 1 << 20, maxAgeMs: 300 },
          },
          { logger },
        ),
      detector: () =>
        createDetectorService(
          { ...detectorDefaults, kafka: kafka('detector'), stateDir: path.join(dir, 'detector'), repartitionPartitions: options.partitions ?? 3, fsync: false },
          { logger, ops: false },
        ),
      sessionizer: () =>
        createSessionizerService(
          { ...sessionizerDefaults, kafka: kafka('sessionizer'), stateDir: path.join(dir, 'sessions'), fsync: false },
          { logger, ops: false },
        ),
    } satisfies Record<Stage, () => { start(): Promise<unknown>; stop(): Promise<void> }>;
    for (const name of options.stages ?? ALL_BUT_SESSIONS) {
      const s = make[name]();
      await s.start();
      stages.push(s);
    }
    const auth = await startAuthServer({ port: 0, logger });
    demo.push(() => auth.close());
    const upstream = await startUpstream({ port: 0, logger });
    demo.push(() => upstream.close());

    let interceptor: Interceptor | undefined;
    let edge = '';
    if (options.interceptor !== false) {
      const base: InterceptorConfig = {
        ...interceptorDefaults,
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: { auth: auth.url, api: upstream.url },
        routes: DEMO_ROUTES,
        jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
        spool: { ...interceptorDefaults.spool, dir: path.join(dir, 'spool') },
        kafka: kafka('interceptor'),
        ops: {},
      };
      interceptor = createInterceptor(options.interceptor ? options.interceptor(base) : base, { logger, ops: false });
      edge = (await interceptor.start()).url;
      const started = interceptor;
      edgeStops.push(() => started.stop());
    }
    const es = new Client({ node: embedded.esUrl });
    demo.push(() => es.close());
    const login = async (user = 'alice') => {
      const r = await fetch(`${edge || auth.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: DEMO_CLIENT_BASIC, 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=password&username=${user}&password=${user}-pw`,
      });
      if (r.status !== 200) throw new Error(`login of ${user}: the token endpoint answered ${r.status}: ${await r.text()}`);
      return ((await r.json()) as { access_token: string }).access_token;
    };
    return {
      ...embedded,
      auth,
      upstream,
      edge,
      interceptor,
      namespace,
      index: `logs-jwt_audit.events-${namespace}`,
      archiveDir,
      keysDir,
      jwksFile: path.join(keysDir, 'archive-public.jwks.json'),
      es,
      login,
      defer: (s) => own.push(s),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
