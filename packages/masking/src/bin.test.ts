import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CANARIES, CANARY_VALUES, canaryEvent, canaryFormEvent } from './canary.js';
import { pseudonym } from './keys.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), 'bin.ts');
const run = (args: string[], env: Record<string, string> = {}, input?: string) => {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], {
    input,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const KEY = { AUDIT_MASKING_KEYS: 'new:second-secret-0123456789,old:first-secret-0123456789' };

test('audit-mask mask: NDJSON from stdin, masked events out, a bad line reported without echoing it', () => {
  const input = [JSON.stringify(canaryEvent()), JSON.stringify(canaryFormEvent()), `{"password":"${CANARIES.password}" trailing ${CANARIES.email}}`].join('\n');
  const r = run(['mask'], KEY, input);
  assert.equal(r.code, 1, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 2);
  for (const v of CANARY_VALUES) assert.ok(!r.out.includes(v) && !r.err.includes(v), `planted value in the output: ${v}`);
  assert.equal(JSON.parse(lines[0]!).masking.keyId, 'new');
  assert.match(r.err, /event 3: not masked: not valid JSON/);
});

test('audit-mask pseudonym: the active key by default, an older one by id; a file or pretty document for mask', async () => {
  const r = run(['pseudonym', CANARIES.email], KEY);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), pseudonym(CANARIES.email, { id: 'new', secret: 'second-secret-0123456789' }));
  const old = run(['pseudonym', '--key-id', 'old', CANARIES.email], KEY);
  assert.equal(old.out.trim(), pseudonym(CANARIES.email, { id: 'old', secret: 'first-secret-0123456789' }));
  assert.equal(run(['pseudonym', '--key-id', 'gone', 'x'], KEY).code, 2);
  const dir = await mkdtemp(join(tmpdir(), 'audit-mask-'));
  try {
    const f = join(dir, 'event.json');
    await writeFile(f, JSON.stringify(canaryEvent(), null, 2));
    const m = run(['mask', f], { AUDIT_MASKING_HMAC_KEY: 'single-key-0123456789', AUDIT_MASKING_KEY_ID: 'k9' });
    assert.equal(m.code, 0, m.err);
    assert.equal(JSON.parse(m.out).masking.keyId, 'k9');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('audit-mask: no key, a short key, a bad policy: exit 2 with the reason', async () => {
  assert.match(run(['pseudonym', 'x']).err, /no key/);
  assert.equal(run(['pseudonym', 'x'], { AUDIT_MASKING_KEYS: 'k:short' }).code, 2);
  const dir = await mkdtemp(join(tmpdir(), 'audit-mask-'));
  try {
    const p = join(dir, 'policy.json');
    await writeFile(p, '{"version":"v","detectors":{"nope":"hash"}}');
    const r = run(['check-policy', p]);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown detector nope/);
    await writeFile(p, '{"version":"v9","fields":{"^nick$":"drop"}}');
    const ok = run(['check-policy', p]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).fields['^nick$'], 'drop');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
