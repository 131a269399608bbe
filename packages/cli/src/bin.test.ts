/**
 * The install line of the README works: `npm link -w packages/cli` puts an executable `audit` on
 * the PATH that runs from any directory, built or not (issue #25: dist/bin.js was not executable
 * and the README gave no link command). npm links into a temporary prefix (npm_config_prefix),
 * never the global one, and the checkout's lockfile is left as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(pkgDir, '../..');
const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[] };

async function exec(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  try {
    const r = await run(file, args, { ...opts, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('the bin is an executable node script, shipped with the package', () => {
  const bin = path.join(pkgDir, pkg.bin.audit!);
  assert.equal(pkg.bin.audit, './bin/audit.js');
  assert.ok(pkg.files.includes('bin'), 'files lists bin/');
  assert.ok((statSync(bin).mode & 0o111) === 0o111, 'executable by everyone');
  assert.equal(readFileSync(bin, 'utf8').split('\n', 1)[0], '#!/usr/bin/env node');
});

test('npm link -w packages/cli (temporary prefix): audit --version and a usage error from another directory', async (t) => {
  const prefix = mkdtempSync(path.join(tmpdir(), 'cli-prefix-'));
  const elsewhere = mkdtempSync(path.join(tmpdir(), 'cli-cwd-'));
  t.after(() => {
    rmSync(prefix, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });
  const lockBefore = createHash('sha256')
    .update(readFileSync(path.join(root, 'package-lock.json')))
    .digest('hex');
  const env = {
    ...process.env,
    npm_config_prefix: prefix,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  };
  const linked = await exec('npm', ['link', '-w', 'packages/cli'], { cwd: root, env });
  assert.equal(linked.code, 0, linked.stderr);
  const audit = path.join(prefix, 'bin', 'audit');
  assert.equal(realpathSync(audit), realpathSync(path.join(pkgDir, 'bin', 'audit.js')), "the linked command is this checkout's bin");
  assert.equal(
    createHash('sha256')
      .update(readFileSync(path.join(root, 'package-lock.json')))
      .digest('hex'),
    lockBefore,
    'linking changes nothing in the checkout',
  );

  const version = await exec(audit, ['--version'], { cwd: elsewhere });
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);
  // exit codes come through the bin: a usage error is 2, naming what is missing
  const usage = await exec(audit, ['archive', 'export', '--dir', elsewhere], { cwd: elsewhere });
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /missing --from \(or --since\)/);
});
