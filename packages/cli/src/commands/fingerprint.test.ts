import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pseudonym } from '@jwt-audit/masking';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin.ts');
const KEYS = 'k2026:second-fingerprint-secret-000,k2025:first-fingerprint-secret-0000';

function audit(args: string[], o: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
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

test('audit fingerprint: the fingerprints events carry, from an argument or stdin, keyed with the interceptor\'s ring; usage errors exit 2', async () => {
  const token = await audit(['--token', jwt]);
  assert.equal(token.code, 0, token.stderr);
  assert.equal(token.stdout, `${sha(jwt)}\n`);
  // a non-canonical spelling of the same token: the same fingerprint, and a note
  const variant = await audit(['--token', `${jwt}==`]);
  assert.equal(variant.stdout, `${sha(jwt)}\n`);
  assert.match(variant.stderr, /not in canonical base64url/);
  const json = JSON.parse((await audit(['--token', '--json'], { stdin: `${jwt}\n` })).stdout);
  assert.deepEqual(json, { kind: 'token', fingerprint: sha(jwt), jwt: true, canonical: true });

  const cookie = 'session=s3cr3t; theme=dark';
  const c = await audit(['--header', 'Cookie'], { stdin: cookie });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, `${pseudonym(cookie, { id: 'k2026', secret: 'second-fingerprint-secret-000' })}\n`);
  assert.match(c.stdout, /^hmac:k2026:[0-9a-f]{32}\n$/);
  const older = await audit(['--header', 'x-api-key', '--key-id', 'k2025', 'key-123']);
  assert.equal(older.stdout, `${pseudonym('key-123', { id: 'k2025', secret: 'first-fingerprint-secret-0000' })}\n`);
  const basic = await audit(['--header', 'authorization', 'Basic YWxpY2U6aHVudGVyMg==']);
  assert.match(basic.stdout, /^hmac:k2026:/);
  const bearer = await audit(['--header', 'authorization', `Bearer ${jwt}`]);
  assert.equal(bearer.stdout, `sha256:${sha(jwt)}\n`);
  // the key ring from a file works as from the variable (checked through the same parser)
  for (const [args, env, message] of [
    [['--token', '--header', 'cookie', 'x'], {}, /exactly one of --token or --header/],
    [['x'], {}, /exactly one of --token or --header/],
    [['--header', 'cookie', 'x'], { AUDIT_FINGERPRINT_KEYS: undefined }, /AUDIT_FINGERPRINT_KEYS/],
    [['--header', 'cookie', 'x'], { AUDIT_FINGERPRINT_KEYS: 'k:short' }, /at least 16 bytes/],
    [['--header', 'cookie', '--key-id', 'nope', 'x'], {}, /--key-id "nope" is not in/],
    [['--token'], {}, /no value given/],
  ] as const) {
    const r = await audit([...args], { env: env as Record<string, string | undefined> });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
  const help = await audit(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--token/);
  assert.match(help.stdout, /--header <name>/);
});
