import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pseudonym } from '@jwt-audit/masking';
import { FingerprintUsageError, fingerprintOf } from './fingerprint-of.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'bin.ts');
const KEYS = 'k2026:second-fingerprint-secret-000,k2025:first-fingerprint-secret-0000';

function audit(
  args: string[],
  o: { stdin?: string; env?: Record<string, string | undefined> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: Record<string, string | undefined> = { ...process.env, AUDIT_FINGERPRINT_KEYS: KEYS, ...o.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, 'fingerprint', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(o.stdin ?? '');
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ sub: 'alice', exp: 2e9 })}.${Buffer.from('a-signature!').toString('base64url')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const ENV = { AUDIT_FINGERPRINT_KEYS: KEYS };
const k2026 = { id: 'k2026', secret: 'second-fingerprint-secret-000' };

test("fingerprintOf: the fingerprints events carry, keyed with the interceptor's ring; what is wrong named", async () => {
  assert.deepEqual(fingerprintOf(jwt, { token: true }, ENV), { kind: 'token', fingerprint: sha(jwt), jwt: true, canonical: true });
  // non-canonical spellings of the same token: the same fingerprint, marked
  // the payload segment ends in 2 unused bits here: set them, and pad the segments
  const [h, p, sg] = jwt.split('.') as [string, string, string];
  assert.equal(p.length % 4, 3);
  const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const flipped = `${p.slice(0, -1)}${ALPHA[ALPHA.indexOf(p.at(-1)!) | 1]}`;
  for (const v of [`${jwt}==`, `${jwt}=`, `${h}.${p}=.${sg}`, `${h}.${flipped}.${sg}`]) {
    const out = fingerprintOf(v, { token: true }, ENV);
    assert.equal(out.fingerprint, sha(jwt), v.slice(-6));
    assert.equal(out.canonical, false);
  }
  assert.deepEqual(fingerprintOf('opaque-refresh', { token: true }, ENV), { kind: 'token', fingerprint: sha('opaque-refresh'), jwt: false, canonical: true });
  const cookie = 'session=s3cr3t; theme=dark';
  assert.equal(fingerprintOf(cookie, { header: 'Cookie' }, ENV).fingerprint, pseudonym(cookie, k2026));
  assert.equal(
    fingerprintOf('key-123', { header: 'x-api-key', keyId: 'k2025' }, ENV).fingerprint,
    pseudonym('key-123', { id: 'k2025', secret: 'first-fingerprint-secret-0000' }),
  );
  assert.equal(fingerprintOf('Basic YWxpY2U6aHVudGVyMg==', { header: 'authorization' }, ENV).fingerprint, pseudonym('Basic YWxpY2U6aHVudGVyMg==', k2026));
  assert.equal(fingerprintOf(`Bearer ${jwt}`, { header: 'Authorization' }, ENV).fingerprint, `sha256:${sha(jwt)}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'fp-'));
  writeFileSync(path.join(dir, 'keys'), `${KEYS}\n`);
  assert.equal(fingerprintOf(cookie, { header: 'cookie' }, { AUDIT_FINGERPRINT_KEYS_FILE: path.join(dir, 'keys') }).fingerprint, pseudonym(cookie, k2026));
  rmSync(dir, { recursive: true });
  for (const [value, o, env, message] of [
    ['x', { token: true, header: 'cookie' }, ENV, /exactly one of --token or --header/],
    ['x', {}, ENV, /exactly one of --token or --header/],
    ['x', { header: 'cookie' }, {}, /AUDIT_FINGERPRINT_KEYS/],
    ['x', { header: 'cookie' }, { AUDIT_FINGERPRINT_KEYS: 'k:short' }, /at least 16 bytes/],
    ['x', { header: 'cookie' }, { AUDIT_FINGERPRINT_KEYS_FILE: '/nonexistent/keys' }, /AUDIT_FINGERPRINT_KEYS_FILE/],
    ['x', { header: 'cookie', keyId: 'nope' }, ENV, /--key-id "nope" is not in/],
    ['', { token: true }, ENV, /no value given/],
  ] as const) {
    assert.throws(
      () => fingerprintOf(value, o, env),
      (err: unknown) => err instanceof FingerprintUsageError && message.test(err.message),
      JSON.stringify(o),
    );
  }
});

test('audit fingerprint from the command line: stdin or an argument, --json, exit 2 on a usage error, --help', async () => {
  const [token, header, usage, help] = await Promise.all([
    audit(['--token', `${jwt}==`]),
    audit(['--header', 'cookie', '--json'], { stdin: 'sid=abc\n' }),
    audit(['--header', 'cookie', 'x'], { env: { AUDIT_FINGERPRINT_KEYS: undefined } }),
    audit(['--help']),
  ]);
  assert.equal(token.code, 0, token.stderr);
  assert.equal(token.stdout, `${sha(jwt)}\n`);
  assert.match(token.stderr, /not in canonical base64url/);
  assert.deepEqual(JSON.parse(header.stdout), { kind: 'secret', header: 'cookie', keyId: 'k2026', fingerprint: pseudonym('sid=abc', k2026) });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^audit fingerprint: .*AUDIT_FINGERPRINT_KEYS/);
  assert.equal(usage.stdout, '');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--token/);
  assert.match(help.stdout, /--header <name>/);
});
