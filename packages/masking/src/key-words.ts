/**
 * Key names by their words. A JSON member, form field, query parameter, header or attribute key
 * is split into words (camelCase, snake_case, kebab-case, dots, spaces, leading underscores,
 * digits) and the words are matched against the sensitive vocabulary, so `new_password`,
 * `userPassword`, `X-Amz-Signature`, `pin_code`, `api-key` and `_password` are all one rule,
 * without an anchored regex per spelling.
 *
 * Three kinds of entries:
 *   word      the whole word (`pin`, `otp`, `ssn`): `pin_code` yes, `mapping` no
 *   contains  a stem found inside any word (`password`: `dbpassword`, `userpassword` written in one
 *             piece, which camelCase splitting cannot separate)
 *   phrase    consecutive words, or the same joined in one word (`api key`: `api_key`, `apiKey`,
 *             `x-api-key`, `apikey`)
 * and an explicit list of keys that contain a sensitive word but carry no secret (`token_type`,
 * `expires_in`, `token_endpoint`), compared in their normalised form (words joined by `_`), so
 * `tokenType`, `Token-Type` and `token.type` are the same entry.
 */
import type { Action } from './policy.js';

export interface KeyWordRules {
  /** word / stem / phrase (words separated by one space) -> action */
  words: Record<string, Action>;
  /** normalised keys (lower-case words joined by `_`) that are never sensitive */
  notSensitive: string[];
}

export const DEFAULT_KEY_WORDS: Record<string, Action> = {
  // credentials: their value is the secret, nothing to correlate
  password: 'redact',
  passwd: 'redact',
  pwd: 'redact',
  pass: 'redact',
  passphrase: 'redact',
  passcode: 'redact',
  secret: 'redact',
  credential: 'redact',
  creds: 'redact',
  'api key': 'redact',
  'access key': 'redact',
  'private key': 'redact',
  'signing key': 'redact',
  'encryption key': 'redact',
  otp: 'redact',
  totp: 'redact',
  hotp: 'redact',
  'one time': 'redact',
  mfa: 'redact',
  signature: 'redact',
  sig: 'redact',
  ssn: 'redact',
  'social security': 'redact',
  'tax id': 'redact',
  'security code': 'drop',
  // bearer material: hashed, so one token correlates across events without being revealed
  token: 'hash',
  jwt: 'hash',
  bearer: 'hash',
  assertion: 'hash',
  session: 'hash',
  sessionid: 'hash',
  cookie: 'hash',
  auth: 'hash',
  authorization: 'hash',
  // payment data
  card: 'partial',
  'card number': 'partial',
  ccnum: 'partial',
  pan: 'partial',
  iban: 'partial',
  'account number': 'partial',
  'acct number': 'partial',
  cvv: 'drop',
  cvv2: 'drop',
  cvc: 'drop',
  cvc2: 'drop',
  pin: 'drop',
  // personal data
  email: 'hash',
  mail: 'hash',
  phone: 'hash',
  mobile: 'hash',
  msisdn: 'hash',
};

/** Stems matched inside any word: long enough and distinctive enough not to occur in innocent words. */
const CONTAINS = new Set(['password', 'passwd', 'passphrase', 'passcode', 'secret', 'credential', 'signature', 'cookie', 'token', 'session']);
/** Words that contain a stem and are not sensitive. */
const INNOCENT_WORDS = new Set(['tokenizer', 'tokenize', 'tokenized', 'tokenization', 'secretary', 'secretariat']);

/**
 * The false-positive list: keys with a sensitive word whose value is not a secret. Explicit and
 * tested (key-words.test.ts); normalised form.
 */
export const DEFAULT_NOT_SENSITIVE: string[] = [
  'token_type',
  'token_type_hint',
  'expires_in',
  'refresh_expires_in',
  'token_endpoint',
  'token_endpoint_auth_method',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg',
  'token_endpoint_auth_signing_alg_values_supported',
  'revocation_endpoint_auth_method',
  'id_token_signing_alg_values_supported',
  'id_token_signed_response_alg',
  'session_state_supported',
  'token_use',
  'token_count',
  'auth_type',
  'auth_method',
  'auth_time',
  'email_verified',
  'phone_number_verified',
  'password_policy',
  'password_expires_at',
  'signature_algorithm',
  'sig_alg',
  'card_type',
  'card_brand',
  // the pipeline's own attribute keys (their values have shapes of their own: event-fields.ts)
  'token_signature_verified',
  'token_claimed_sub',
  'auth_rejection',
  'authorization_missing_scopes',
];

/**
 * Splits a key into lower-case words: `X-Amz-Signature` -> x amz signature, `userPassword` -> user
 * password, `__password` -> password, `APIKey` -> api key, `pin2` -> pin 2. Other characters than
 * letters and digits separate words.
 */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([A-Za-z])(\d)/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export const normaliseKey = (key: string): string => keyWords(key).join('_');

/** The compiled vocabulary: `match(key)` is the action of the first sensitive word, or undefined. */
export interface KeyWordMatcher {
  match(key: string): { word: string; action: Action } | undefined;
}

export function compileKeyWords(rules: KeyWordRules): KeyWordMatcher {
  const single = new Map<string, Action>();
  const stems: Array<[string, Action]> = [];
  const phrases: Array<{ words: string[]; joined: string; action: Action }> = [];
  for (const [w, action] of Object.entries(rules.words)) {
    const words = keyWords(w);
    if (words.length === 0) continue;
    if (words.length === 1) {
      single.set(words[0]!, action);
      if (CONTAINS.has(words[0]!)) stems.push([words[0]!, action]);
    } else phrases.push({ words, joined: words.join(''), action });
  }
  const notSensitive = new Set(rules.notSensitive.map(normaliseKey));
  return {
    match(key) {
      const words = keyWords(key);
      if (words.length === 0 || notSensitive.has(words.join('_'))) return undefined;
      for (let i = 0; i < words.length; i++) {
        const w = words[i]!;
        for (const p of phrases) {
          if (w === p.joined || (p.joined.length >= 6 && w.includes(p.joined))) return { word: p.words.join(' '), action: p.action };
          if (i + p.words.length <= words.length && p.words.every((pw, j) => words[i + j] === pw || (j === 0 && words[i]!.endsWith(pw))))
            return { word: p.words.join(' '), action: p.action };
        }
        const a = single.get(w) ?? (w.endsWith('s') ? single.get(w.slice(0, -1)) : undefined);
        if (a) return { word: single.has(w) ? w : w.slice(0, -1), action: a };
        if (!INNOCENT_WORDS.has(w)) for (const [stem, action] of stems) if (w.includes(stem)) return { word: stem, action };
      }
      return undefined;
    },
  };
}
