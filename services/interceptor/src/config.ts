import {
  KAFKA_ENV,
  OPS_ENV,
  kafkaConfigSchema,
  opsConfigSchema,
  problemsOf,
  RETRY_POLICIES,
  type KafkaConnectionConfig,
  type OpsConfig,
} from '@jwt-audit/runtime';
import {
  createRouter,
  RouteConfigError,
  trustedProxies,
  DEFAULT_METHODS,
  type AmbiguousPathAction,
  type BodyCapture,
  type CaptureRule,
  type Mode,
  type RouteConfig,
  type SamplingRule,
  type SpoolFullPolicy,
} from '@jwt-audit/edge';
import { PRODUCER_CLIENTS, type ProducerClient } from '@jwt-audit/kafka';

export type { Mode, RouteConfig, SpoolFullPolicy };

export interface InterceptorConfig {
  listen: { host: string; port: number; tls?: { certFile: string; keyFile: string } };
  mode: Mode;
  upstreams: Record<string, string>;
  routes: RouteConfig[];
  /** Methods a route serves when it lists none (HEAD comes with GET); TRACE, CONNECT and others are refused unless a route lists them. */
  methods: string[];
  paths: {
    /** Encoded "/" and "\", a literal "\", ";" path parameters: refused with 400 ("reject"), or kept as escaped data ("keep-encoded"). */
    ambiguous: AmbiguousPathAction;
  };
  jwt: {
    jwksUrl?: string;
    /** Static public JWKs / PEM keys, used when jwksUrl is not set. */
    keys?: Array<Record<string, unknown>>;
    algorithms: string[];
    issuer?: string;
    audience?: string;
    clockToleranceSec: number;
    requiredClaims: string[];
    jwksCacheMaxAgeMs: number; // 10 min
    jwksCooldownMs: number; // 30 s between unknown-kid refetches
    maxTokenBytes: number;
    /** Longest token lifetime accepted (exp - iat, or exp - now): 24 h; 0 disables. */
    maxLifetimeSec: number;
    /** iat in the future / lifetime too long: "reject" (own reasons) or "flag" (accepted, attributes["token.flags"]). */
    claimsPolicy: 'reject' | 'flag';
  };
  capture: {
    headers: string[];
    secretHeaders: string[];
    bodies: BodyCapture;
    maxBodyBytes: number;
    rules: CaptureRule[];
    sampling: SamplingRule[];
  };
  trustedProxies: string[];
  /** The key ring secret header values are fingerprinted with (`id:secret,...`, from AUDIT_FINGERPRINT_KEYS[_FILE]); fingerprint-key.ts. */
  fingerprint: { keys?: string; activeKeyId?: string };
  /** Header the verified subject is forwarded in (any client-sent value is removed); "" = none. */
  forwardSubjectHeader: string;
  /** Largest request body proxied (bytes); larger gets 413. */
  maxRequestBodyBytes: number;
  upstreamTimeoutMs: number;
  /** Whole request (headers + body) must arrive within this (slowloris guard). */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Requests node refuses itself (clientError) are audited up to this rate; beyond it they are only counted. */
  clientErrorEvents: { perSecond: number; burst: number };
  /** Open client connections allowed, in all and per socket peer address (0: no per-address cap). */
  connections: { max: number; maxPerIp: number };
  /** sendTimeoutMs: one send of a batch to Kafka; past it the batch is spooled (the publisherSend retry policy). */
  /**
   * client: the Kafka client of the producer thread: `platformatic` (@platformatic/kafka, about a
   * third of kafkajs's CPU per record) or `kafkajs` (the fallback). Both idempotent, acks all, the
   * same partitions for the same keys.
   */
  queue: { maxEvents: number; batchSize: number; lingerMs: number; sendTimeoutMs?: number; client?: ProducerClient };
  /** How long an idle keep-alive connection from a client stays open (ms). */
  keepAliveTimeoutMs?: number;
  /**
   * minFreeBytes: bytes to keep free on the spool's filesystem (statfs); below it the spool takes
   * nothing more (fail-closed routes answer 503, /healthz is 503). Default 64 MiB.
   */
  spool: { dir: string; maxBytes: number; fsync: 'always' | 'never'; minFreeBytes?: number };
  onSpoolFull: SpoolFullPolicy;
  ingest: {
    enabled: boolean;
    path: string;
    /** HMAC-SHA256 keys for signed bodies (secrets from the environment). */
    hmacKeys: Array<{ id: string; secret: string }>;
    /** Bearer JWTs for this audience (same issuer/keys as `jwt`) may push events. */
    jwtAudience?: string;
    maxBodyBytes: number;
    /** Seconds a signed request stays valid (replay window). */
    maxSkewSec: number;
    /** Signatures and event ids remembered to refuse replays (409) within 2 x maxSkewSec; default 100 000. */
    replayCacheSize?: number;
  };
  revocations: { enabled: boolean; startupTimeoutMs: number };
  /**
   * Just-in-time approval (routes' `approvals` rules): the state is followed on audit.approvals.v1;
   * `callback` takes signed decisions (approval-callback.ts), on when it has a key.
   */
  approvals: {
    enabled: boolean;
    startupTimeoutMs: number;
    callback: { path: string; hmacKeys: Array<{ id: string; secret: string }>; maxSkewSec: number; maxBodyBytes: number };
  };
  source: { service: string; instance: string; environment: string };
  kafka: KafkaConnectionConfig;
  ops: OpsConfig;
}

/** spool.minFreeBytes by default: 64 MiB left free on the spool's filesystem. */
export const DEFAULT_SPOOL_MIN_FREE_BYTES = 64 * 1024 * 1024;

export const defaults: InterceptorConfig = {
  listen: { host: '127.0.0.1', port: 8080 },
  mode: 'enforce',
  upstreams: {},
  routes: [],
  methods: [...DEFAULT_METHODS],
  paths: { ambiguous: 'reject' },
  jwt: {
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    clockToleranceSec: 30,
    requiredClaims: ['sub'],
    jwksCacheMaxAgeMs: 600_000, // 10 min
    jwksCooldownMs: 30_000, // 30 s
    maxTokenBytes: 16_384, // 16 KiB
    maxLifetimeSec: 86_400, // 24 h
    claimsPolicy: 'reject',
  },
  capture: {
    headers: ['accept', 'content-type', 'content-length', 'user-agent', 'x-request-id', 'host', 'location', 'www-authenticate'],
    secretHeaders: ['x-api-key'],
    bodies: 'none',
    maxBodyBytes: 4_096, // 4 KiB
    rules: [],
    sampling: [],
  },
  trustedProxies: [],
  fingerprint: {},
  forwardSubjectHeader: 'x-auth-subject',
  maxRequestBodyBytes: 10 * 1024 * 1024, // 10 MiB
  upstreamTimeoutMs: 30_000, // 30 s
  requestTimeoutMs: 30_000, // 30 s
  headersTimeoutMs: 10_000, // 10 s
  clientErrorEvents: { perSecond: 20, burst: 100 }, // events/s sustained, and the burst above it
  // a descriptor each; behind a load balancer every client is its address: raise maxPerIp or set 0
  connections: { max: 10_000, maxPerIp: 1_000 },
  // lingerMs: a partial batch waits that long for more records. kafkajs spends ~200 µs per send
  // besides its per-record work, so larger batches cost less CPU per event; 20 ms more before an
  // event reaches Kafka is invisible to an audit trail and to no request.
  queue: { maxEvents: 20_000, batchSize: 500, lingerMs: 20, sendTimeoutMs: RETRY_POLICIES.publisherSend.timeoutMs, client: 'platformatic' }, // send: 10 s
  keepAliveTimeoutMs: 5_000, // 5 s
  spool: { dir: './.data/spool', maxBytes: 512 * 1024 * 1024, fsync: 'always', minFreeBytes: DEFAULT_SPOOL_MIN_FREE_BYTES }, // 512 MiB, 64 MiB
  onSpoolFull: 'fail-open',
  ingest: { enabled: true, path: '/audit/v1/events', hmacKeys: [], maxBodyBytes: 1_048_576, maxSkewSec: 300, replayCacheSize: 100_000 },
  revocations: { enabled: true, startupTimeoutMs: 15_000 },
  approvals: {
    enabled: true,
    startupTimeoutMs: 15_000,
    callback: { path: '/audit/v1/approvals/callback', hmacKeys: [], maxSkewSec: 300, maxBodyBytes: 16_384 },
  }, // 5 min, 16 KiB
  source: { service: 'interceptor', instance: 'interceptor-1', environment: 'dev' },
  kafka: { brokers: ['127.0.0.1:9092'], clientId: 'interceptor' },
  ops: { port: 9464, host: '127.0.0.1' },
};

const stringList = { type: 'array', items: { type: 'string' } } as const;
const bodies = { enum: ['none', 'request', 'response', 'both'] } as const;
const policy = { enum: ['fail-open', 'fail-closed'] } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'mode', 'upstreams', 'routes', 'jwt', 'capture', 'spool', 'kafka', 'source'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        host: { type: 'string' },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['certFile', 'keyFile'],
          properties: { certFile: { type: 'string' }, keyFile: { type: 'string' } },
        },
      },
    },
    mode: { enum: ['enforce', 'observe'] },
    upstreams: { type: 'object', additionalProperties: { type: 'string', format: 'uri' } },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          name: { type: 'string' },
          path: { type: 'string', pattern: '^/' },
          methods: stringList,
          upstream: { type: 'string' },
          auth: { enum: ['jwt', 'none'] },
          scopes: { oneOf: [stringList, { type: 'object', additionalProperties: stringList }] },
          caseSensitive: { type: 'boolean' },
          strictTrailingSlash: { type: 'boolean' },
          mode: { enum: ['enforce', 'observe'] },
          tokenEndpoint: { enum: ['token', 'revocation'] },
          capture: {
            type: 'object',
            additionalProperties: false,
            properties: { headers: stringList, bodies, maxBodyBytes: { type: 'integer', minimum: 0 } },
          },
          onSpoolFull: policy,
          preflight: { enum: ['forward', 'answer', 'refuse'] },
          approvals: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['mode'],
              properties: {
                name: { type: 'string', minLength: 1, maxLength: 128 },
                methods: stringList,
                path: { type: 'string', pattern: '^/' },
                claims: { type: 'object', additionalProperties: { oneOf: [{ type: 'string' }, stringList] } },
                body: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['field', 'above'],
                  properties: { field: { type: 'string', minLength: 1 }, above: { type: 'number' } },
                },
                mode: { enum: ['hold', 'ticket'] },
                holdSec: { type: 'integer', minimum: 1, maximum: 600 },
                decideSec: { type: 'integer', minimum: 1, maximum: 604_800 },
                validSec: { type: 'integer', minimum: 1, maximum: 86_400 },
                approvers: { enum: [1, 2] },
                reason: { type: 'string', maxLength: 512 },
              },
            },
          },
          cors: {
            type: 'object',
            additionalProperties: false,
            required: ['origins'],
            properties: {
              origins: { type: 'array', minItems: 1, items: { type: 'string' } },
              headers: stringList,
              exposeHeaders: stringList,
              maxAgeSec: { type: 'integer', minimum: 0, maximum: 86400 },
              credentials: { type: 'boolean' },
            },
          },
        },
      },
    },
    methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z][A-Za-z-]*$' } },
    paths: { type: 'object', additionalProperties: false, properties: { ambiguous: { enum: ['reject', 'keep-encoded'] } } },
    jwt: {
      type: 'object',
      additionalProperties: false,
      required: ['algorithms'],
      properties: {
        jwksUrl: { type: 'string', format: 'uri' },
        keys: { type: 'array', items: { type: 'object' } },
        algorithms: { type: 'array', minItems: 1, items: { type: 'string' } },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        clockToleranceSec: { type: 'integer', minimum: 0, maximum: 3600 },
        requiredClaims: stringList,
        jwksCacheMaxAgeMs: { type: 'integer', minimum: 1000 },
        jwksCooldownMs: { type: 'integer', minimum: 0 },
        maxTokenBytes: { type: 'integer', minimum: 256 },
        maxLifetimeSec: { type: 'integer', minimum: 0 },
        claimsPolicy: { enum: ['reject', 'flag'] },
      },
    },
    capture: {
      type: 'object',
      additionalProperties: false,
      properties: {
        headers: stringList,
        secretHeaders: stringList,
        bodies,
        maxBodyBytes: { type: 'integer', minimum: 0 },
        rules: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: { roles: stringList, scopes: stringList, bodies, headers: stringList, maxBodyBytes: { type: 'integer', minimum: 0 } },
          },
        },
        sampling: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['rate'],
            properties: {
              route: { type: 'string' },
              pathPrefix: { type: 'string' },
              status: { type: 'string', pattern: '^([1-5]xx|[1-5]\\d\\d)$' },
              rate: { type: 'number', minimum: 0, maximum: 1 },
            },
          },
        },
      },
    },
    trustedProxies: stringList,
    fingerprint: {
      type: 'object',
      additionalProperties: false,
      properties: { keys: { type: 'string', minLength: 1 }, activeKeyId: { type: 'string', minLength: 1 } },
    },
    forwardSubjectHeader: { type: 'string' },
    maxRequestBodyBytes: { type: 'integer', minimum: 0 },
    upstreamTimeoutMs: { type: 'integer', minimum: 1 },
    keepAliveTimeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
    requestTimeoutMs: { type: 'integer', minimum: 1 },
    headersTimeoutMs: { type: 'integer', minimum: 1 },
    connections: {
      type: 'object',
      additionalProperties: false,
      required: ['max', 'maxPerIp'],
      properties: { max: { type: 'integer', minimum: 1 }, maxPerIp: { type: 'integer', minimum: 0 } },
    },
    clientErrorEvents: {
      type: 'object',
      additionalProperties: false,
      required: ['perSecond', 'burst'],
      properties: { perSecond: { type: 'number', exclusiveMinimum: 0 }, burst: { type: 'integer', minimum: 1 } },
    },
    queue: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxEvents: { type: 'integer', minimum: 1 },
        batchSize: { type: 'integer', minimum: 1 },
        lingerMs: { type: 'integer', minimum: 0, maximum: 1000 },
        sendTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
        client: { enum: [...PRODUCER_CLIENTS] },
      },
    },
    spool: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: {
        dir: { type: 'string', minLength: 1 },
        maxBytes: { type: 'integer', minimum: 1024 },
        fsync: { enum: ['always', 'never'] },
        minFreeBytes: { type: 'integer', minimum: 0 },
      },
    },
    onSpoolFull: policy,
    ingest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        path: { type: 'string', pattern: '^/' },
        hmacKeys: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'secret'],
            properties: { id: { type: 'string' }, secret: { type: 'string', minLength: 32 } },
          },
        },
        jwtAudience: { type: 'string' },
        maxBodyBytes: { type: 'integer', minimum: 1 },
        maxSkewSec: { type: 'integer', minimum: 1 },
        replayCacheSize: { type: 'integer', minimum: 1 },
      },
    },
    revocations: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, startupTimeoutMs: { type: 'integer', minimum: 0 } },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        startupTimeoutMs: { type: 'integer', minimum: 0 },
        callback: {
          type: 'object',
          additionalProperties: false,
          properties: {
            path: { type: 'string', pattern: '^/' },
            hmacKeys: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['id', 'secret'],
                properties: { id: { type: 'string' }, secret: { type: 'string', minLength: 32 } },
              },
            },
            maxSkewSec: { type: 'integer', minimum: 1, maximum: 3600 },
            maxBodyBytes: { type: 'integer', minimum: 256, maximum: 1_048_576 },
          },
        },
      },
    },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['service', 'instance', 'environment'],
      properties: { service: { type: 'string' }, instance: { type: 'string' }, environment: { type: 'string' } },
    },
    kafka: kafkaConfigSchema,
    ops: opsConfigSchema,
  },
} as const;

/** Environment variables -> config paths (on top of the shared Kafka / ops ones). */
export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_INTERCEPTOR_HOST: 'listen.host',
  AUDIT_INTERCEPTOR_PORT: 'listen.port',
  AUDIT_INTERCEPTOR_MODE: 'mode',
  AUDIT_INTERCEPTOR_SEND_TIMEOUT_MS: 'queue.sendTimeoutMs',
  AUDIT_INTERCEPTOR_KAFKA_CLIENT: 'queue.client',
  AUDIT_INTERCEPTOR_KEEP_ALIVE_TIMEOUT_MS: 'keepAliveTimeoutMs',
  AUDIT_INTERCEPTOR_UPSTREAMS: 'upstreams',
  AUDIT_INTERCEPTOR_ROUTES: 'routes',
  AUDIT_INTERCEPTOR_SAMPLING: 'capture.sampling',
  AUDIT_JWT_JWKS_URL: 'jwt.jwksUrl',
  AUDIT_JWT_ISSUER: 'jwt.issuer',
  AUDIT_JWT_AUDIENCE: 'jwt.audience',
  AUDIT_JWT_ALGORITHMS: 'jwt.algorithms',
  AUDIT_TRUSTED_PROXIES: 'trustedProxies',
  AUDIT_SPOOL_DIR: 'spool.dir',
  AUDIT_SPOOL_MAX_BYTES: 'spool.maxBytes',
  AUDIT_SPOOL_MIN_FREE_BYTES: 'spool.minFreeBytes',
  AUDIT_INGEST_HMAC_KEYS: 'ingest.hmacKeys',
  AUDIT_INGEST_JWT_AUDIENCE: 'ingest.jwtAudience',
  AUDIT_APPROVALS_CALLBACK_KEYS: 'approvals.callback.hmacKeys',
  AUDIT_ENVIRONMENT: 'source.environment',
  AUDIT_FINGERPRINT_KEYS: 'fingerprint.keys',
  AUDIT_FINGERPRINT_ACTIVE_KEY_ID: 'fingerprint.activeKeyId',
  AUDIT_INSTANCE: 'source.instance',
};

/**
 * The checks the schema cannot express, run by runService with the schema's (every problem at
 * once): routes that compile (every route problem is listed), trusted proxies that parse (each bad
 * entry named), and a key source for JWT verification. `serve: false` (middleware only) needs no upstreams.
 */
export function checkConfig(config: InterceptorConfig, opts: { serve?: boolean } = {}): string[] {
  const problems: string[] = [];
  try {
    createRouter(config.routes, {
      upstreams: config.upstreams,
      mode: config.mode,
      onSpoolFull: config.onSpoolFull,
      methods: config.methods,
      ambiguousPaths: config.paths.ambiguous,
      requireUpstream: opts.serve !== false,
    });
  } catch (err) {
    problems.push(...(err instanceof RouteConfigError ? err.problems : [`routes: ${(err as Error).message}`]));
  }
  config.trustedProxies.forEach((entry, i) => problems.push(...problemsOf(`trustedProxies.${i}`, () => trustedProxies([entry]))));
  if (!config.jwt.jwksUrl && !(config.jwt.keys && config.jwt.keys.length > 0)) problems.push('jwt: set jwksUrl (AUDIT_JWT_JWKS_URL) or keys');
  return problems;
}

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'interceptor', configSchema, defaults, env, check: (config: InterceptorConfig) => checkConfig(config) };
