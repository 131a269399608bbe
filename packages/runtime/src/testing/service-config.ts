/**
 * The tests every service runs on its configuration (services/<name>/src/config-testdata.test.ts):
 *   - testdata/valid.json loads (with the secrets a deployment gives through the environment);
 *   - testdata/invalid.json fails with one ConfigError naming every problem listed in
 *     testdata/invalid.expected.json (schema and semantic checks together, nothing more);
 *   - generated hostile values (every environment variable set to wrong types, huge, control
 *     and JSON-ish strings; every config leaf given a wrong type or a huge value; unknown keys,
 *     "__proto__" and "constructor" included, at every level) either load or fail with a
 *     ConfigError naming the variable or field, never anything else;
 *   - the component contract: stop() before start() resolves, twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Component } from '../component.js';
import { ConfigError, loadConfig } from '../config.js';

export interface ServiceConfigTestOptions<C> {
  /** As runService takes them (each service's `serviceConfig`). */
  name: string;
  configSchema: object;
  defaults: C;
  env: Record<string, string>;
  check?: (config: C) => string[];
  /** The service's testdata/ folder. */
  testdata: string;
  /** What a deployment sets in the environment beside the file (secrets), for valid.json. */
  environment?: Record<string, string>;
  /** Makes the service from a valid config, for the component contract (no I/O before start). */
  create?: (config: C) => Component;
}

type SchemaNode = {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  enum?: unknown[];
  maximum?: number;
  maxLength?: number;
  additionalProperties?: unknown;
};

/** Every [dotted path, schema node] below the root, objects and leaves. */
function schemaPaths(node: SchemaNode, prefix: string[] = []): Array<[string[], SchemaNode]> {
  const out: Array<[string[], SchemaNode]> = [];
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    out.push([[...prefix, k], child]);
    out.push(...schemaPaths(child, [...prefix, k]));
  }
  return out;
}

function types(node: SchemaNode): string[] {
  if (node.type === undefined)
    return node.properties ? ['object'] : node.enum ? [...new Set(node.enum.map((v) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v)))] : [];
  return Array.isArray(node.type) ? node.type : [node.type];
}

/** A value of a type the node does not allow (undefined when it allows any). */
function wrongType(node: SchemaNode): unknown {
  const t = types(node);
  if (!t.includes('object')) return { unexpected: 'object' };
  if (!t.includes('array')) return ['unexpected', 'array'];
  if (!t.includes('string')) return 'unexpected string';
  return undefined;
}

function setAt(target: Record<string, unknown>, at: string[], value: unknown): void {
  let node = target;
  for (const part of at.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object' || Array.isArray(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  Object.defineProperty(node, at[at.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
}

const HUGE = 'x'.repeat(1 << 20); // 1 MiB
const ENV_VALUES = [
  '',
  ' ',
  'not-a-value',
  '-1',
  '1e309',
  'NaN',
  '0x10',
  'true',
  '[',
  '[1,2',
  '{',
  '{"a":1}',
  '[{"a":null}]',
  'null',
  '\u0000',
  'a\u001b[31mb',
  '\ud800',
  '../../../../etc/passwd',
  HUGE,
];

/** Registers the tests listed at the top of this file. */
export function testServiceConfig<C>(options: ServiceConfigTestOptions<C>): void {
  const o = { ...options, service: options.name, schema: options.configSchema };
  const load = (environment: Record<string, string>, file?: string) =>
    loadConfig<C>({
      service: o.service,
      schema: o.schema,
      defaults: o.defaults,
      env: o.env,
      environment,
      argv: [],
      ...(o.check ? { check: o.check } : {}),
      ...(file ? { file } : {}),
    });
  const valid = path.join(o.testdata, 'valid.json');
  const invalid = path.join(o.testdata, 'invalid.json');

  test(`${o.service}: testdata/valid.json loads`, () => {
    const config = load(o.environment ?? {}, valid);
    const file = JSON.parse(readFileSync(valid, 'utf8')) as Record<string, unknown>;
    // what the file says is what the service gets (spot-check each top-level setting it names)
    for (const [k, v] of Object.entries(file)) if (v === null || typeof v !== 'object') assert.deepEqual((config as Record<string, unknown>)[k], v, k);
  });

  test(`${o.service}: testdata/invalid.json names every problem at once`, () => {
    const expected = JSON.parse(readFileSync(path.join(o.testdata, 'invalid.expected.json'), 'utf8')) as string[];
    assert.ok(expected.length >= 3, 'invalid.json has several problems, of the schema and of the semantic checks');
    assert.throws(
      () => load(o.environment ?? {}, invalid),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        for (const field of expected)
          assert.ok(
            err.problems.some((p) => p.startsWith(field)),
            `a problem naming ${field} in:\n${err.message}`,
          );
        assert.equal(err.problems.length, expected.length, err.message);
        return true;
      },
    );
  });

  test(`${o.service}: hostile environment values load or are named by their variable`, () => {
    for (const [variable, dotted] of Object.entries(o.env)) {
      for (const value of ENV_VALUES) {
        try {
          load({ ...o.environment, [variable]: value }, valid);
        } catch (err) {
          assert.ok(err instanceof ConfigError, `${variable}=${JSON.stringify(value.slice(0, 40))}: ${String(err)}`);
          const named = err.problems.filter((p) => p.includes(variable) || p.startsWith(dotted));
          assert.ok(named.length > 0, `${variable}=${JSON.stringify(value.slice(0, 40))} not named in:\n${err.message.slice(0, 2000)}`);
          assert.ok(!err.message.includes(HUGE.slice(0, 1000)), 'a huge value is not echoed back whole');
        }
      }
    }
  });

  test(`${o.service}: hostile config file values (wrong types, huge values, unknown keys) are named by their field`, (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), `${o.service}-config-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const base = JSON.parse(readFileSync(valid, 'utf8')) as Record<string, unknown>;
    const file = path.join(dir, 'config.json');
    const attempt = (what: string, field: string, mutate: (c: Record<string, unknown>) => void, mustFail: boolean) => {
      const c = structuredClone(base);
      mutate(c);
      writeFileSync(file, JSON.stringify(c));
      try {
        load(o.environment ?? {}, file);
        assert.ok(!mustFail, `${what}: accepted`);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `${what}: ${String(err)}`);
        assert.ok(
          err.problems.some((p) => p.startsWith(field)),
          `${what}: ${field} not named in:\n${err.message.slice(0, 2000)}`,
        );
      }
    };
    const objects: string[][] = [[]];
    // a setting the environment gives (a secret) wins over the file: not probed through the file
    const fromEnvironment = Object.keys(o.environment ?? {})
      .map((v) => o.env[v.replace(/_FILE$/, '')])
      .filter((f): f is string => f !== undefined);
    for (const [at, node] of schemaPaths(o.schema as SchemaNode)) {
      const field = at.join('.');
      if (fromEnvironment.some((f) => f === field || f.startsWith(`${field}.`))) continue;
      if (types(node).includes('object') && node.properties && node.additionalProperties === false) objects.push(at);
      const wrong = wrongType(node);
      // a node with neither a type nor an enum (oneOf, anyOf) may accept the value: it must only not crash
      if (wrong !== undefined)
        attempt(
          `${field} = ${JSON.stringify(wrong)}`,
          field,
          (c) => setAt(c, at, wrong),
          node.type !== undefined || node.enum !== undefined || node.properties !== undefined,
        );
      if (types(node).includes('string') && node.maxLength !== undefined) attempt(`${field} = 1 MiB string`, field, (c) => setAt(c, at, HUGE), true);
      if ((types(node).includes('integer') || types(node).includes('number')) && node.maximum !== undefined)
        attempt(`${field} = 1e308`, field, (c) => setAt(c, at, 1e308), true);
      if (types(node).includes('integer')) attempt(`${field} = 1.5`, field, (c) => setAt(c, at, 1.5), true);
    }
    for (const at of objects) {
      for (const key of ['unknownSetting', '__proto__', 'constructor']) {
        const field = [...at, key].join('.');
        attempt(`unknown key ${field}`, field, (c) => setAt(c, [...at, key], { polluted: true }), true);
      }
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
  });

  if (o.create) {
    const create = o.create;
    test(`${o.service}: component contract: stop() before start() resolves, and again`, async () => {
      const service = create(load(o.environment ?? {}, valid));
      await service.stop();
      await service.stop();
    });
  }
}
