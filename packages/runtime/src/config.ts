import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import { AuditError, RUNTIME_ERRORS } from './errors.js';

const addFormats = addFormatsModule.default as unknown as typeof addFormatsModule.default.default;

/**
 * One configuration convention for every service:
 *   defaults (in code)  <-  config file (JSON; --config <file> or AUDIT_CONFIG)  <-  environment (AUDIT_*)
 * The merged result is validated once at start against the service's JSON Schema
 * (additionalProperties: false), and every problem is reported at once.
 * Secrets come from the environment, or from a file named by the same variable with a `_FILE`
 * suffix (AUDIT_KAFKA_SASL_PASSWORD_FILE=/run/secrets/kafka), never from the committed config file.
 */

export class ConfigError extends AuditError {
  readonly problems: string[];
  constructor(service: string, problems: string[]) {
    super(RUNTIME_ERRORS.AUDIT_ERR_CONFIG.code, `invalid configuration for ${service}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadConfigOptions<T> {
  service: string;
  /** JSON Schema of the whole config object. */
  schema: object;
  defaults: T;
  /** Environment variable -> dotted config path, e.g. AUDIT_KAFKA_BROKERS -> 'kafka.brokers'. */
  env?: Record<string, string>;
  /** Config file path; default: `--config <file>` in argv, else AUDIT_CONFIG. */
  file?: string;
  argv?: string[];
  environment?: NodeJS.ProcessEnv;
  /**
   * The checks a schema cannot express (routes that compile, CIDRs that parse, a masking policy
   * file that validates, detector rules): each problem one line naming its field. It runs on the
   * merged config even when the schema found problems, so that every problem is reported at once;
   * a check that throws on a config the schema already rejected is not reported twice.
   */
  check?: (config: T) => string[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type SchemaNode = { type?: string | string[]; properties?: Record<string, SchemaNode>; items?: SchemaNode; additionalProperties?: unknown };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? structuredClone(base) : structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  // own properties only, defined rather than assigned: a "__proto__" or "constructor" key in a
  // config file stays a key (which the schema then names as an unknown setting) instead of
  // replacing the object's prototype, where additionalProperties would never see it
  for (const [k, v] of Object.entries(over)) {
    const value = Object.hasOwn(out, k) ? deepMerge(out[k], v) : structuredClone(v);
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function schemaAt(schema: SchemaNode, path: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const part of path) node = node?.properties?.[part];
  return node;
}

function coerce(raw: string, node: SchemaNode | undefined, variable: string, problems: string[]): unknown {
  const types = node?.type === undefined ? ['string'] : Array.isArray(node.type) ? node.type : [node.type];
  const trimmed = raw.trim();
  if (types.includes('array')) {
    if (trimmed.startsWith('[')) return parseJson(trimmed, variable, problems);
    const itemType = node?.items?.type;
    const parts = trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim());
    return itemType === 'integer' || itemType === 'number' ? parts.map(Number) : parts;
  }
  if (types.includes('object')) return parseJson(trimmed, variable, problems);
  if (types.includes('boolean') && /^(true|false|1|0|yes|no)$/i.test(trimmed)) return /^(true|1|yes)$/i.test(trimmed);
  if ((types.includes('integer') || types.includes('number')) && trimmed !== '' && !Number.isNaN(Number(trimmed))) {
    if (Number.isFinite(Number(trimmed))) return Number(trimmed);
    problems.push(`${variable}: ${quoteShort(raw)} is not a finite number`); // 1e309 would be Infinity
    return undefined;
  }
  if (types.includes('null') && trimmed === '') return null;
  if (types.includes('string')) return raw;
  problems.push(`${variable}: cannot read ${quoteShort(raw)} as ${types.join(' | ')}`);
  return undefined;
}

/** A value quoted for a problem line: at most 64 characters of it (a huge value is not echoed back). */
function quoteShort(raw: string): string {
  return raw.length <= 64 ? JSON.stringify(raw) : `${JSON.stringify(raw.slice(0, 64))}... (${raw.length} characters)`;
}

function parseJson(text: string, variable: string, problems: string[]): unknown {
  try {
    return JSON.parse(text) as Json;
  } catch {
    problems.push(`${variable}: expected JSON`);
    return undefined;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** The message for one schema error, naming the variable that set the value when one did. */
function describeWithSource(e: ErrorObject, fromEnv: Map<string, string>): string {
  const message = describe(e);
  const field = message.slice(0, message.indexOf(':'));
  for (let path = field; path !== ''; path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '') {
    const variable = fromEnv.get(path);
    if (variable) return `${message} (set by ${variable})`;
  }
  if (e.keyword === 'required') {
    // a variable that started this object (AUDIT_KAFKA_SASL_USERNAME alone) is why the rest is missing
    const parent = field.includes('.') ? field.slice(0, field.lastIndexOf('.')) : '';
    const starters = [...fromEnv].filter(([path]) => parent !== '' && path.startsWith(`${parent}.`)).map(([, variable]) => variable);
    if (starters.length > 0) return `${message} (${parent} is set by ${starters.join(', ')})`;
  }
  return message;
}

function describe(e: ErrorObject): string {
  // a JSON Pointer: "/rules/auth-failure-burst~1subject" -> rules.auth-failure-burst/subject
  let field = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  if (e.keyword === 'required') field = field ? `${field}.${e.params.missingProperty}` : String(e.params.missingProperty);
  if (e.keyword === 'additionalProperties') return `${field ? `${field}.` : ''}${e.params.additionalProperty}: unknown setting`;
  if (e.keyword === 'enum') return `${field}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${field || '(root)'}: ${e.message ?? e.keyword}`;
}

/** The top-level setting a problem line names: "routes.0.path: ..." -> "routes". */
function topField(problem: string): string {
  const end = problem.search(/[.:\s]/);
  return end < 0 ? problem : problem.slice(0, end);
}

const MAX_PROBLEM_CHARS = 1_000;

const validators = new WeakMap<object, ValidateFunction>();

/** The schema's compiled validator, compiled once per schema object (tests load a config hundreds of times). */
function validatorOf(schema: object): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    addFormats(ajv);
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  return validate;
}

export function configFileFromArgv(argv: string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--config='));
  return eq?.slice('--config='.length);
}

/** Loads, merges and validates a service's configuration; throws ConfigError listing every problem. */
export function loadConfig<T>(opts: LoadConfigOptions<T>): T {
  const environment = opts.environment ?? process.env;
  const problems: string[] = [];
  let merged: unknown = structuredClone(opts.defaults);

  const file = opts.file ?? configFileFromArgv(opts.argv ?? process.argv.slice(2)) ?? environment.AUDIT_CONFIG;
  if (file) {
    try {
      merged = deepMerge(merged, JSON.parse(readFileSync(file, 'utf8')));
    } catch (err) {
      problems.push(`config file ${file}: ${(err as Error).message}`);
    }
  }

  const overrides: Record<string, unknown> = {};
  const fromEnv = new Map<string, string>();
  for (const [variable, dotted] of Object.entries(opts.env ?? {})) {
    let raw = environment[variable];
    const fromFile = environment[`${variable}_FILE`];
    if (raw === undefined && fromFile !== undefined) {
      try {
        raw = readFileSync(fromFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(`${variable}_FILE: cannot read ${fromFile}: ${(err as Error).message}`);
      }
    }
    if (raw === undefined) continue;
    fromEnv.set(dotted, environment[variable] !== undefined ? variable : `${variable}_FILE`);
    const path = dotted.split('.');
    const value = coerce(raw, schemaAt(opts.schema as SchemaNode, path), variable, problems);
    if (value !== undefined) setPath(overrides, path, value);
  }
  merged = deepMerge(merged, overrides);

  const validate = validatorOf(opts.schema);
  const schemaValid = validate(merged);
  if (!schemaValid) problems.push(...(validate.errors ?? []).map((e) => describeWithSource(e, fromEnv)));
  if (opts.check) {
    // A check reading a part the schema rejected would say it again, or throw on the odd shape:
    // only its problems with settings the schema found nothing wrong with are added.
    const rejected = new Set(problems.map(topField));
    try {
      problems.push(...opts.check(merged as T).filter((p) => !rejected.has(topField(p))));
    } catch (err) {
      if (schemaValid) problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  // a problem quoting a huge value (a 1 MiB path in a policy file's error) is cut, not echoed whole
  if (problems.length > 0)
    throw new ConfigError(
      opts.service,
      problems.map((p) => (p.length <= MAX_PROBLEM_CHARS ? p : `${p.slice(0, MAX_PROBLEM_CHARS)}... (${p.length} characters)`)),
    );
  return merged as T;
}

/** Environment variables every service that talks to Kafka understands. */
export const KAFKA_ENV: Record<string, string> = {
  AUDIT_KAFKA_BROKERS: 'kafka.brokers',
  AUDIT_KAFKA_CLIENT_ID: 'kafka.clientId',
  AUDIT_KAFKA_SSL: 'kafka.ssl',
  AUDIT_KAFKA_SASL_MECHANISM: 'kafka.sasl.mechanism',
  AUDIT_KAFKA_SASL_USERNAME: 'kafka.sasl.username',
  AUDIT_KAFKA_SASL_PASSWORD: 'kafka.sasl.password',
  // Paths of PEM files (not secrets themselves); any of them turns TLS on.
  AUDIT_KAFKA_SSL_CA_FILE: 'kafka.tls.caFile',
  AUDIT_KAFKA_SSL_CERT_FILE: 'kafka.tls.certFile',
  AUDIT_KAFKA_SSL_KEY_FILE: 'kafka.tls.keyFile',
  // Transform stages (masker, enricher): consume-transform-produce in Kafka transactions.
  AUDIT_KAFKA_EXACTLY_ONCE: 'kafka.exactlyOnce',
  AUDIT_KAFKA_TRANSACTIONAL_ID: 'kafka.transactionalId',
};

/** Environment variables every service that talks to Elasticsearch understands. */
export const ES_ENV: Record<string, string> = {
  AUDIT_ES_URL: 'elasticsearch.url',
  AUDIT_ES_API_KEY: 'elasticsearch.apiKey',
  AUDIT_ES_USERNAME: 'elasticsearch.username',
  AUDIT_ES_PASSWORD: 'elasticsearch.password',
  AUDIT_ES_CA_FILE: 'elasticsearch.caFile',
};

/** Environment variables for the /metrics + /healthz listener. */
export const OPS_ENV: Record<string, string> = {
  AUDIT_METRICS_PORT: 'ops.port',
  AUDIT_METRICS_HOST: 'ops.host',
};

export const kafkaConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['brokers', 'clientId'],
  properties: {
    brokers: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^\\s:]+:\\d+$' } },
    clientId: { type: 'string', minLength: 1 },
    ssl: { type: 'boolean' },
    exactlyOnce: { type: 'boolean' },
    transactionalId: { type: 'string', minLength: 1, maxLength: 200 },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: { caFile: { type: 'string', minLength: 1 }, certFile: { type: 'string', minLength: 1 }, keyFile: { type: 'string', minLength: 1 } },
    },
    sasl: {
      type: 'object',
      additionalProperties: false,
      required: ['mechanism', 'username', 'password'],
      properties: {
        mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
        username: { type: 'string' },
        password: { type: 'string' },
      },
    },
  },
} as const;

export const esConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', format: 'uri' },
    apiKey: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    caFile: { type: 'string' },
  },
} as const;

export const opsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string' },
  },
} as const;

export interface KafkaConnectionConfig {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  /** PEM files: a CA to trust instead of the system's, and a client certificate + key (mutual TLS). Implies TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /**
   * Transform stages only: each batch's outputs and input offset in one Kafka transaction
   * (packages/kafka runner), so a crash repeats nothing a read_committed reader sees. Default false.
   */
  exactlyOnce?: boolean;
  /** With exactlyOnce: this instance's transactional id, stable across restarts; default `<groupId>-<hostname>`. */
  transactionalId?: string;
}

export interface EsConnectionConfig {
  url: string;
  apiKey?: string;
  username?: string;
  password?: string;
  caFile?: string;
}

export interface OpsConfig {
  /** /metrics and /healthz; 0 = ephemeral port. */
  port?: number;
  host?: string;
}

/**
 * A semantic check as a list of problems: what `fn` throws, as one line (prefixed with the field
 * unless the message already starts with it); nothing when it does not throw.
 */
export function problemsOf(field: string, fn: () => unknown): string[] {
  try {
    fn();
    return [];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith(field)) return [message];
    // "trustedProxies: bad prefix ..." checked as trustedProxies.3 -> "trustedProxies.3: bad prefix ..."
    const top = `${field.split('.')[0]}: `;
    return [`${field}: ${message.startsWith(top) ? message.slice(top.length) : message}`];
  }
}

/**
 * The JSON Schema of a service that consumes Kafka: its connection (`kafka`), the ops listener
 * (`ops`) and its consumer group (`groupId`, required), with the service's own settings beside
 * them; unknown settings are refused.
 */
export function consumerServiceSchema(
  required: string[],
  properties: Record<string, object>,
): { type: 'object'; additionalProperties: false; required: string[]; properties: Record<string, object> } {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['kafka', 'groupId', ...required],
    properties: { kafka: kafkaConfigSchema, ops: opsConfigSchema, groupId: { type: 'string', minLength: 1 }, ...properties },
  };
}

/** The settings every service that consumes Kafka has (consumerServiceSchema's). */
export interface ConsumerServiceConfig {
  kafka: KafkaConnectionConfig;
  ops: OpsConfig;
  /** The consumer group: instances with the same one share the partitions. */
  groupId: string;
}

/**
 * Their defaults: the broker of `npm start` (127.0.0.1:9092), the client id and consumer group
 * named for the service, and the ops listener on 127.0.0.1 at `opsPort` (0: an ephemeral port).
 */
export function consumerServiceDefaults(name: string, opsPort: number, clientId = name): ConsumerServiceConfig {
  return { kafka: { brokers: ['127.0.0.1:9092'], clientId }, ops: { port: opsPort, host: '127.0.0.1' }, groupId: name };
}
