import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ErrorDefinition } from '@jwt-audit/runtime';

/**
 * The error catalogues (#18): every AUDIT_ERR_* code is defined once, by defineErrors() in its
 * package's errors.ts (the problem types: packages/edge/src/problem.ts), documented in that
 * package's README, and is the only way shipped code names a code or throws. Codes are read from
 * the catalogue modules themselves (imported), uses from the source text.
 */

const root = path.resolve(import.meta.dirname, '..');

/** Trees whose plain Errors are not converted yet (other helpers own them this session; see the README). */
const NOT_CATALOGUED_YET = new Set<string>([]);

/** Places that must stay as they are, each with its reason. Every entry must still match (a stale one fails). */
const ALLOWED: Array<{ file: string; contains: string; why: string }> = [
  {
    file: 'services/interceptor/src/spool.ts',
    contains: "Object.assign(new Error('spool write wrote nothing'), { code: 'EIO' })",
    why: 'a short write stands in for the errno (EIO) the disk-failure path reads',
  },
  {
    file: 'services/interceptor/src/spool.ts',
    contains: "Object.assign(new Error('cursor write wrote nothing'), { code: 'EIO' })",
    why: 'as above, for the cursor file (twice)',
  },
  {
    file: 'packages/kafka/src/transform-pool.ts',
    contains: 'new AuditError(e.code, e.message, { retriable: e.retriable })',
    why: 'rebuilds, on the main thread, a catalogued error a transform thread sent as data',
  },
];

/** A README's package folder for each catalogue file (the problem table is the interceptor's to list). */
const README_OF: Record<string, string> = { 'packages/edge/src/problem.ts': 'services/interceptor' };

function shippedFiles(): string[] {
  const out: string[] = [];
  const skipDir = new Set(['node_modules', 'dist', 'testdata', 'fixtures', 'testing', 'differential', 'bench', 'conformance']);
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!skipDir.has(e.name)) walk(full);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') && e.name !== 'fixtures.ts')
        out.push(path.relative(root, full));
    }
  };
  for (const top of ['packages', 'services']) {
    for (const pkg of readdirSync(path.join(root, top))) {
      const src = path.join(root, top, pkg, 'src');
      if (existsSync(src)) walk(src);
    }
  }
  return out.sort();
}

const packageOf = (file: string) => file.split('/').slice(0, 2).join('/');
const files = shippedFiles();
const text = new Map(files.map((f) => [f, readFileSync(path.join(root, f), 'utf8')]));
/** AuditError subclasses (each constructed from a catalogue entry in its errors.ts). */
const errorClasses = [...text.values()].flatMap((t) => [...t.matchAll(/class (\w+) extends AuditError\b/g)].map((m) => m[1]!));
const catalogueFiles = files
  .filter((f) => /\bdefineErrors\(\{/.test(text.get(f)!) && f !== 'packages/runtime/src/errors.ts')
  .concat('packages/runtime/src/errors.ts');

/** code -> the catalogue file that defines it, read from the modules' exports. */
async function definedCodes(): Promise<Map<string, { file: string; def: ErrorDefinition }>> {
  const codes = new Map<string, { file: string; def: ErrorDefinition }>();
  const duplicates: string[] = [];
  for (const file of catalogueFiles) {
    const mod = (await import(pathToFileURL(path.join(root, file)).href)) as Record<string, unknown>;
    let found = 0;
    for (const value of Object.values(mod)) {
      if (value === null || typeof value !== 'object') continue;
      for (const [key, def] of Object.entries(value as Record<string, unknown>)) {
        const d = def as ErrorDefinition;
        if (d === null || typeof d !== 'object' || typeof d.create !== 'function' || d.code !== key) continue;
        found++;
        const seen = codes.get(key);
        if (seen && seen.file !== file) duplicates.push(`${key}: ${seen.file} and ${file}`);
        codes.set(key, { file, def: d });
      }
    }
    assert.ok(found > 0, `${file} calls defineErrors but exports no catalogue`);
  }
  assert.deepEqual(duplicates, [], 'a code is defined in two catalogues');
  return codes;
}

describe('error catalogues', async () => {
  const codes = await definedCodes();

  it('every package and service that throws on purpose has a catalogue, and every definition is well-formed', () => {
    assert.ok(codes.size >= 60, `${codes.size} codes`);
    for (const [code, { file, def }] of codes) {
      assert.match(code, /^AUDIT_ERR_[A-Z0-9_]+$/);
      assert.equal(typeof def.retriable, 'boolean', code);
      assert.ok(def.message.length > 0, code);
      const err = def.create('x', 'y', 'z');
      assert.equal(err.code, code);
      assert.equal(err.retriable, def.retriable, code);
      assert.ok(!err.message.includes('%s'), `${code}: create() leaves a placeholder in ${JSON.stringify(err.message)}`);
      // an HTTP code has both a status and a problem type, or neither
      assert.equal(def.status === undefined, def.type === undefined, `${code} (${file}): status and type go together`);
      if (def.status !== undefined) {
        assert.ok(def.status >= 400 && def.status <= 599, code);
        assert.match(def.type!, /^https:\/\/jwt-audit\.dev\/problems\/[a-z0-9-]+$/, code);
      }
    }
    for (const pkg of new Set(files.map(packageOf))) {
      if (NOT_CATALOGUED_YET.has(pkg)) continue;
      const throwsOnPurpose = files.some((f) => packageOf(f) === pkg && /\bthrow\b/.test(text.get(f)!));
      const hasCatalogue = catalogueFiles.some((f) => packageOf(f) === pkg);
      const usesOthers = files.some(
        (f) =>
          packageOf(f) === pkg &&
          (/\b[A-Z]+_(ERRORS|CODES)\.AUDIT_ERR_|\bPROBLEMS\.AUDIT_ERR_|\bcliError\(/.test(text.get(f)!) ||
            errorClasses.some((c) => text.get(f)!.includes(`new ${c}(`))),
      );
      if (throwsOnPurpose) assert.ok(hasCatalogue || usesOthers, `${pkg} throws but neither defines nor uses a catalogue`);
    }
  });

  it('every code is listed in the README of the package that defines it; a README names no code that is not defined', () => {
    const missing: string[] = [];
    for (const [code, { file, def }] of codes) {
      const dir = README_OF[file] ?? packageOf(file);
      const readme = readFileSync(path.join(root, dir, 'README.md'), 'utf8');
      const line = readme.split('\n').find((l) => l.includes(`\`${code}\``));
      if (!line) missing.push(`${code} -> ${dir}/README.md`);
      // a problem type's row names its status and type too
      else if (def.type !== undefined && !(line.includes(String(def.status)) && line.includes(def.type.slice(def.type.lastIndexOf('/') + 1))))
        missing.push(`${code}: ${dir}/README.md row lacks status ${def.status} or type ${def.type}`);
    }
    assert.deepEqual(missing, []);
    const stale: string[] = [];
    for (const top of ['packages', 'services']) {
      for (const pkg of readdirSync(path.join(root, top))) {
        const readme = path.join(root, top, pkg, 'README.md');
        if (!existsSync(readme)) continue;
        for (const m of readFileSync(readme, 'utf8').matchAll(/\bAUDIT_ERR_[A-Z0-9_]*[A-Z0-9]\b/g))
          if (!codes.has(m[0])) stale.push(`${top}/${pkg}/README.md: ${m[0]}`);
      }
    }
    assert.deepEqual(stale, [], 'codes named in a README but defined nowhere');
  });

  it('shipped code names codes only through a catalogue, and throws no plain Error', () => {
    const problems: string[] = [];
    const allowedHits = new Map(ALLOWED.map((a) => [a, 0]));
    for (const file of files) {
      if (NOT_CATALOGUED_YET.has(packageOf(file))) continue;
      const isCatalogue = catalogueFiles.includes(file);
      text
        .get(file)!
        .split('\n')
        .forEach((line, i) => {
          const at = `${file}:${i + 1}`;
          const allowed = ALLOWED.find((a) => a.file === file && line.includes(a.contains));
          if (allowed) allowedHits.set(allowed, allowedHits.get(allowed)! + 1);
          // every AUDIT_ERR_ token anywhere (code, comment, message) is a defined code, or a prefix of one (AUDIT_ERR_KAFKA_<CLASS>)
          for (const m of line.matchAll(/\bAUDIT_ERR_[A-Z0-9_]*/g)) {
            const token = m[0];
            const ok = token.endsWith('_') ? [...codes.keys()].some((c) => c.startsWith(token)) : codes.has(token);
            if (!ok) problems.push(`${at}: ${token} is not a defined code`);
          }
          // a code as a string literal outside its catalogue: a second definition in all but name
          if (!isCatalogue && /['"`]AUDIT_ERR_/.test(line)) problems.push(`${at}: code as a string literal (use ERRORS.AUDIT_ERR_X.code / .create)`);
          if (allowed) return;
          if (/\bnew Error\(|\bthrow Error\(|\breject\(new Error\b/.test(line)) problems.push(`${at}: plain Error (use a catalogued code)`);
          if (!isCatalogue && /\bnew AuditError\(/.test(line)) problems.push(`${at}: new AuditError with a code of its own (define it in errors.ts)`);
        });
    }
    assert.deepEqual(problems, []);
    for (const [a, hits] of allowedHits) assert.ok(hits > 0, `allow-list entry no longer matches: ${a.file}: ${a.contains}`);
  });

  it('the checks above catch what they are for (the scanner on made-up lines)', () => {
    // the same expressions, on lines a careless edit would write
    const plain = /\bnew Error\(|\bthrow Error\(|\breject\(new Error\b/;
    for (const bad of ["throw new Error('x')", 'throw Error(`x`)', "p.reject(new Error('x'))", "  return Promise.reject(new Error('no archive'))"])
      assert.ok(plain.test(bad), bad);
    for (const fine of ['throw X_ERRORS.AUDIT_ERR_X.create()', 'class FooError extends Error {', "new TypeError('x')"]) assert.ok(!plain.test(fine), fine);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal, as the scanner reads it
    for (const bad of ["toAuditError(err, 'AUDIT_ERR_UNDECODABLE')", 'code === "AUDIT_ERR_X"', '`AUDIT_ERR_${x}`']) assert.ok(/['"`]AUDIT_ERR_/.test(bad), bad);
  });
});
