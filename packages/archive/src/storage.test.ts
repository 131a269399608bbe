import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localStorage, StorageError } from './storage.js';

const storageModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'storage.ts');

/**
 * Each file the child writes is 256-768 KiB of a repeated byte, then the SHA-256 of what precedes it:
 * a complete file proves itself, a torn one cannot.
 */
const child = `
import { createHash } from 'node:crypto';
import { localStorage } from ${JSON.stringify(storageModule)};
const s = localStorage(process.argv[1]);
for (let i = 0; ; i++) {
  const body = Buffer.alloc((1 + (i % 3)) * 256 * 1024, i % 251);
  await s.putExclusive('t/0/' + String(i).padStart(6, '0') + '.bin', Buffer.concat([body, createHash('sha256').update(body).digest()]));
  if (i === 0) process.stdout.write('ready\\n');
}
`;

test('putExclusive under SIGKILL at random moments: a published name only ever holds a whole file; leftovers are hidden and removable', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storage-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let leftovers = 0;
  let published = 0;
  for (let round = 0; round < 6; round++) {
    const root = path.join(dir, String(round));
    const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', child, root], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    const streamDir = path.join(root, 't', '0');
    const names = readdirSync(streamDir);
    for (const name of names.filter((n) => !n.startsWith('.'))) {
      const bytes = readFileSync(path.join(streamDir, name));
      assert.ok(bytes.length > 32, `${name}: ${bytes.length} bytes`);
      assert.deepEqual(
        bytes.subarray(-32),
        createHash('sha256').update(bytes.subarray(0, -32)).digest(),
        `round ${round}: ${name} is torn (${bytes.length} bytes)`,
      );
      published++;
    }
    const s = localStorage(root);
    assert.deepEqual(
      (await s.list('t/0/')).map((k) => k.slice(4)),
      names.filter((n) => !n.startsWith('.')).sort(),
      'list shows published files only',
    );
    const removed = await s.removeIncomplete('t/0/');
    leftovers += removed.length;
    assert.deepEqual(
      readdirSync(streamDir).filter((n) => n.startsWith('.')),
      [],
      'removeIncomplete leaves no temporary file',
    );
  }
  t.diagnostic(`${published} whole files published, ${leftovers} interrupted writes left hidden and removed`);
});

test('putExclusive refuses an existing name, and the file stays as it was', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = localStorage(dir);
  await s.putExclusive('t/0/a', Buffer.from('first'));
  await assert.rejects(s.putExclusive('t/0/a', Buffer.from('second')), (err: unknown) => err instanceof StorageError && err.code === 'exists');
  assert.equal((await s.get('t/0/a')).toString(), 'first');
  assert.deepEqual(readdirSync(path.join(dir, 't', '0')), ['a'], 'no temporary file left behind');
  await assert.rejects(s.putExclusive('../outside', Buffer.from('x')), /outside the archive/);
});
