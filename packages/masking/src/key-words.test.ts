import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileKeyWords, DEFAULT_KEY_WORDS, DEFAULT_NOT_SENSITIVE, keyWords } from './key-words.js';
import { createMasker, DEFAULT_POLICY } from './index.js';
import { canaryEvent } from './canary.js';

const matcher = compileKeyWords({ words: DEFAULT_KEY_WORDS, notSensitive: DEFAULT_NOT_SENSITIVE });
const masker = createMasker(DEFAULT_POLICY, { id: 'k1', secret: 'key-words-test-key-0' });

/**
 * The words of a key written in every style keys are written in. All lower-case in one piece
 * (`dbpassword`) only for the stems long enough to be found inside a word: `newpin` cannot be split.
 */
const ONE_PIECE = new Set([
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'api key',
  'credential',
  'credentials',
  'session',
  'cookie',
  'signature',
  'private key',
  'account number',
]);
function styles(words: string[], onePiece = true): string[] {
  const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);
  return [
    words.join('_'),
    words.join('-'),
    words.join('.'),
    words.join(' '),
    ...(onePiece ? [words.join('')] : []),
    words[0]! + words.slice(1).map(cap).join(''),
    words.map(cap).join(''),
    words.join('_').toUpperCase(),
    words.map(cap).join('-'),
    `_${words.join('_')}`,
    `__${words[0]! + words.slice(1).map(cap).join('')}`,
  ];
}

// the vocabulary, each written as words
const SENSITIVE = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'api key',
  'apikey',
  'credential',
  'credentials',
  'otp',
  'pin',
  'session',
  'cookie',
  'signature',
  'private key',
  'ssn',
  'card',
  'cvv',
  'cvc',
  'iban',
  'account number',
];
const PREFIXES = [[], ['new'], ['user'], ['db'], ['x', 'amz'], ['old']];
const SUFFIXES = [[], ['confirmation'], ['value'], ['2']];

test('key words: every sensitive word in every position and style is caught (generated variants)', () => {
  let n = 0;
  const missed: string[] = [];
  for (const word of SENSITIVE) {
    for (const pre of PREFIXES) {
      for (const suf of SUFFIXES) {
        const words = [...pre, ...word.split(' '), ...suf];
        for (const key of styles(words, ONE_PIECE.has(word))) {
          n++;
          // `apikey` written in one piece is one word; its camelCase forms are words again
          if (!matcher.match(key)) missed.push(key);
        }
      }
    }
  }
  assert.ok(n > 5000, `${n} keys`);
  assert.deepEqual(missed, []);
});

test("key words: the issue's examples", () => {
  for (const key of [
    'new_password',
    'userPassword',
    'passwordConfirmation',
    'db_password',
    'otp',
    'apiToken',
    'credentials',
    'session',
    'api-key',
    'pin_code',
    'X-Amz-Signature',
    '_password',
    'user password',
    'DB_PASSWD',
    'x-api-key',
    'privateKey',
    'card_number',
    'accountNumber',
    'cvc2',
    'sessionId',
    'ssn',
  ]) {
    assert.ok(matcher.match(key), key);
  }
  assert.deepEqual(keyWords('X-Amz-Signature'), ['x', 'amz', 'signature']);
  assert.deepEqual(keyWords('__userPassword2'), ['user', 'password', '2']);
  assert.deepEqual(keyWords('APIKey'), ['api', 'key']);
});

test('key words: the false-positive list is explicit, and holds in every style', () => {
  for (const key of DEFAULT_NOT_SENSITIVE) for (const v of styles(key.split('_'), false)) assert.equal(matcher.match(v), undefined, v);
  for (const key of ['token_type', 'expires_in', 'tokenType', 'Token-Type', 'token.type']) assert.equal(matcher.match(key), undefined, key);
  // words that merely contain a short sensitive word are not that word
  for (const key of [
    'mapping',
    'spinner',
    'opinion',
    'passport',
    'bypass',
    'compass',
    'discard',
    'cardinality',
    'keyboard',
    'username',
    'description',
    'tokenizer',
    'secretary',
    'status_code',
    'zip_code',
    'id',
    'name',
    'grant_type',
    'scope',
    'client_id',
    'redirect_uri',
    'state',
    'kid',
    'key_id',
  ]) {
    assert.equal(matcher.match(key), undefined, key);
  }
});

test('key words apply to every place a key names a value: JSON members, form fields, query parameters, headers, attribute keys, multipart names, key=value text', () => {
  const keys = ['new_password', 'userPassword', 'pin_code', 'api-key', 'X-Amz-Signature', 'apiToken', 'db_password', 'credentials', 'session'];
  for (const k of keys) {
    const value = `v4lue-of-${k.length}-Zq9`;
    const e = canaryEvent();
    e.http!.request.query = `${encodeURIComponent(k)}=${value}`;
    e.http!.request.headers = { [k.replace(/[^A-Za-z0-9-]/g, '-')]: value };
    e.http!.request.body = {
      contentType: 'application/json',
      size: 10,
      truncated: false,
      sha256: null,
      content: JSON.stringify({ a: { b: [{ [k]: value }] }, [k]: { value } }),
    };
    e.http!.response!.body = {
      contentType: 'application/x-www-form-urlencoded',
      size: 10,
      truncated: false,
      sha256: null,
      content: `${encodeURIComponent(k)}=${value}`,
    };
    e.attributes = { [k.replace(/[^A-Za-z0-9._:-]/g, '_')]: value };
    e.rejection = { reason: 'malformed', detail: `${k}=${value}` };
    const out = JSON.stringify(masker.mask(e));
    assert.ok(!out.includes(value), `${k}: ${out.slice(out.indexOf(value) - 80, out.indexOf(value) + 20)}`);
    const mp = `--b\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${value}\r\n--b--\r\n`;
    e.http!.response!.body = { contentType: 'multipart/form-data; boundary=b', size: mp.length, truncated: false, sha256: null, content: mp };
    assert.ok(!JSON.stringify(masker.mask(e)).includes(value), `${k} in multipart`);
  }
  // and a key on the false-positive list keeps its value
  assert.equal(masker.maskText('token_type=Bearer-ish expires_in=3600').text, 'token_type=Bearer-ish expires_in=3600');
});
