import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { MASKING_ERRORS } from './errors.js';
import { DEFAULT_KEY_WORDS, DEFAULT_NOT_SENSITIVE } from './key-words.js';

export type Action = 'redact' | 'hash' | 'partial' | 'drop';

/**
 * A masking policy (a JSON file in production, validated at start):
 *   fields     field-name patterns (case-insensitive regex source, matched against the key at any
 *              depth of JSON bodies, form and multipart fields, query parameters) -> action
 *   headers    header names -> action (Authorization, Cookie ... are always covered)
 *   detectors  detector name -> action, for values anywhere in free text; absent = not applied
 */
export interface MaskingPolicy {
  version: string;
  fields: Record<string, Action>;
  /**
   * Sensitive words of key names (key-words.ts): a key is split into words and matched against
   * these, in every place a key names a value (JSON members, form fields, query parameters,
   * headers, attribute keys, multipart part names, key=value pairs in text).
   */
  words: Record<string, Action>;
  /** Keys with a sensitive word that carry no secret (`token_type`, `expires_in`), normalised. */
  notSensitive: string[];
  headers: Record<string, Action>;
  detectors: Record<string, Action>;
  /** Characters kept by `partial` (from the end). */
  partialKeep: number;
  /**
   * Bodies whose media type (parsed, RFC 9110) is not text are never kept (size + sha256 only):
   * an entry ending in `/` is a type prefix (`text/`), one starting with `+` a structured-syntax
   * suffix (`+json`), anything else an exact `type/subtype`.
   */
  textContentTypes: string[];
}

export const DEFAULT_POLICY: MaskingPolicy = {
  version: 'default-1',
  // names that are sensitive only as a whole (a word rule would catch `status_code`, `zip_code`)
  fields: {
    '^(code|auth_?code|authorization_?code|code_?verifier|device_?code|user_?code|nonce)$': 'hash',
    '^(cc|e-?mail)$': 'hash',
  },
  words: DEFAULT_KEY_WORDS,
  notSensitive: DEFAULT_NOT_SENSITIVE,
  headers: { authorization: 'hash', 'proxy-authorization': 'hash', cookie: 'hash', 'set-cookie': 'hash', 'x-api-key': 'redact' },
  detectors: {
    'private-key': 'redact',
    jwe: 'hash',
    jwt: 'hash',
    'bearer-token': 'hash',
    'aws-access-key': 'redact',
    'aws-secret-key': 'redact',
    'gcp-api-key': 'redact',
    'azure-storage-key': 'redact',
    'github-token': 'redact',
    'gitlab-token': 'redact',
    'npm-token': 'redact',
    'pypi-token': 'redact',
    'rubygems-token': 'redact',
    'slack-token': 'redact',
    'stripe-key': 'redact',
    'vendor-token': 'redact',
    'url-credentials': 'redact',
    'credit-card': 'partial',
    iban: 'partial',
    'us-ssn': 'redact',
    email: 'hash',
    phone: 'hash',
  },
  partialKeep: 4,
  textContentTypes: [
    'application/json',
    'application/x-www-form-urlencoded',
    'multipart/',
    'text/',
    'application/xml',
    '+json',
    '+xml',
    'application/graphql',
    'application/javascript',
  ],
};

const action = { enum: ['redact', 'hash', 'partial', 'drop'] };
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { type: 'string', minLength: 1 },
    fields: { type: 'object', additionalProperties: action },
    words: { type: 'object', additionalProperties: action },
    notSensitive: { type: 'array', items: { type: 'string', minLength: 1 } },
    headers: { type: 'object', additionalProperties: action },
    detectors: { type: 'object', additionalProperties: action },
    partialKeep: { type: 'integer', minimum: 0, maximum: 8 },
    textContentTypes: { type: 'array', items: { type: 'string' } },
  },
};
const validate = new Ajv({ allErrors: true }).compile(schema);

/** Validates a policy document (merged over the default); every problem is reported at once. */
export function parsePolicy(doc: unknown, detectorNames: string[]): MaskingPolicy {
  if (!validate(doc)) {
    throw MASKING_ERRORS.AUDIT_ERR_MASKING_POLICY.create(
      `invalid masking policy: ${(validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; ')}`,
    );
  }
  const d = doc as Partial<MaskingPolicy>;
  const policy: MaskingPolicy = {
    ...DEFAULT_POLICY,
    ...d,
    fields: { ...DEFAULT_POLICY.fields, ...d.fields },
    words: { ...DEFAULT_POLICY.words, ...d.words },
    notSensitive: [...DEFAULT_POLICY.notSensitive, ...(d.notSensitive ?? [])],
    headers: { ...DEFAULT_POLICY.headers, ...d.headers },
    detectors: { ...DEFAULT_POLICY.detectors, ...d.detectors },
  };
  const problems: string[] = [];
  for (const p of Object.keys(policy.fields)) {
    try {
      new RegExp(p, 'i');
    } catch (err) {
      problems.push(`fields: ${p}: ${(err as Error).message}`);
    }
  }
  for (const n of Object.keys(policy.detectors)) if (!detectorNames.includes(n)) problems.push(`detectors: unknown detector ${n}`);
  if (problems.length) throw MASKING_ERRORS.AUDIT_ERR_MASKING_POLICY.create(`invalid masking policy: ${problems.join('; ')}`);
  return policy;
}

/** Reads and validates a policy file (JSON); a clear error names the file and every problem. */
export function loadPolicyFile(file: string, detectorNames: string[]): MaskingPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw MASKING_ERRORS.AUDIT_ERR_MASKING_POLICY.create(`masking policy ${file}: ${(err as Error).message}`);
  }
  try {
    return parsePolicy(doc, detectorNames);
  } catch (err) {
    throw MASKING_ERRORS.AUDIT_ERR_MASKING_POLICY.create(`${file}: ${(err as Error).message}`);
  }
}
