import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendDurable, lockDirectory, writeFileAtomic } from './state-files.js';

test("lockDirectory: one holder at a time in a process; a dead owner's lock is taken over", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'state-files-'));
  try {
    const order: string[] = [];
    const holder = async (name: string) => {
      const unlock = await lockDirectory(dir);
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${name}-`);
      unlock();
    };
    await Promise.all([holder('a'), holder('b'), holder('c')]);
    for (let i = 0; i < order.length; i += 2) assert.equal(order[i]!.slice(0, -1), order[i + 1]!.slice(0, -1), order.join(' '));
    writeFileSync(path.join(dir, 'lock'), '999999999'); // a pid no process has
    const unlock = await lockDirectory(dir);
    assert.equal(readFileSync(path.join(dir, 'lock'), 'utf8'), String(process.pid));
    unlock();
    assert.equal(existsSync(path.join(dir, 'lock')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic replaces a file whole; appendDurable appends and counts bytes', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'state-files-'));
  try {
    const f = path.join(dir, 'sub', 'snapshot.json');
    writeFileAtomic(f, 'one', false);
    writeFileAtomic(f, 'two', true);
    assert.equal(readFileSync(f, 'utf8'), 'two');
    assert.equal(existsSync(`${f}.tmp`), false);
    const j = path.join(dir, 'journal');
    assert.equal(appendDurable(j, 'é\n', false) + appendDurable(j, 'x\n', true), 5);
    assert.equal(readFileSync(j, 'utf8'), 'é\nx\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
