#!/usr/bin/env node
/**
 * audit-mask: the masking engine from the command line, for operators.
 *   audit-mask mask [file]            mask audit events (JSON, one per line or one document) from a file or stdin
 *   audit-mask pseudonym <value...>   the pseudonym a value gets, to search for it in masked events
 *   audit-mask check-policy <file>    validate a policy file
 * Keys come from the environment, never from arguments: AUDIT_MASKING_KEYS (`id:secret,...`, the
 * first active) or AUDIT_MASKING_HMAC_KEY + AUDIT_MASKING_KEY_ID (the masker's variables; `_FILE`
 * variants read the secret from a file). Exit codes: 0 ok, 1 some input could not be masked,
 * 2 usage, configuration or policy error.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { eventCodec, type AuditEvent } from '@jwt-audit/events';
import { DETECTOR_NAMES } from './detectors.js';
import { MASKING_ERRORS } from './errors.js';
import { parseKeyRing, pseudonym, validateKeys, type MaskingKeys } from './keys.js';
import { mask } from './mask.js';
import { DEFAULT_POLICY, loadPolicyFile, type MaskingPolicy } from './policy.js';

function fail(message: string): never {
  process.stderr.write(`audit-mask: ${message}\n`);
  process.exit(2);
}

function env(name: string): string | undefined {
  const v = process.env[name];
  if (v !== undefined) return v;
  const file = process.env[`${name}_FILE`];
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    return fail(`${name}_FILE: ${(err as Error).message}`);
  }
}

function keysFromEnv(): MaskingKeys {
  try {
    const ring = env('AUDIT_MASKING_KEYS');
    if (ring) return parseKeyRing(ring, process.env.AUDIT_MASKING_ACTIVE_KEY_ID);
    const key = env('AUDIT_MASKING_HMAC_KEY');
    if (key) {
      const id = process.env.AUDIT_MASKING_KEY_ID ?? 'k1';
      return validateKeys({ activeKeyId: id, keys: { [id]: key } });
    }
  } catch (err) {
    fail((err as Error).message);
  }
  return fail('no key: set AUDIT_MASKING_KEYS (id:secret,...) or AUDIT_MASKING_HMAC_KEY (+ AUDIT_MASKING_KEY_ID)');
}

function policyFrom(file: string | undefined): MaskingPolicy {
  try {
    return file ? loadPolicyFile(file, DETECTOR_NAMES) : DEFAULT_POLICY;
  } catch (err) {
    return fail((err as Error).message);
  }
}

const program = new Command('audit-mask').description('Mask audit events, compute pseudonyms and check masking policies').showHelpAfterError();

program
  .command('mask')
  .description('mask audit events read as JSON (one per line, or a single document) from a file or stdin; masked events are written one per line')
  .argument('[file]', 'input file (default: stdin)')
  .option('--policy <file>', 'masking policy (default: the built-in policy)')
  .action(async (file: string | undefined, o: { policy?: string }) => {
    const policy = policyFrom(o.policy);
    const keys = keysFromEnv();
    const text = file ? readInput(file) : undefined;
    const lines = text !== undefined ? splitDocuments(text) : createInterface({ input: process.stdin, crlfDelay: Infinity });
    let bad = 0;
    let n = 0;
    for await (const line of lines) {
      if (!line.trim()) continue;
      n++;
      try {
        let event: AuditEvent;
        try {
          event = JSON.parse(line) as AuditEvent;
        } catch {
          throw MASKING_ERRORS.AUDIT_ERR_MASKING_INPUT.create('not valid JSON'); // V8's message quotes the input, which is unmasked
        }
        const problems = eventCodec.validate(event);
        if (problems.length) throw MASKING_ERRORS.AUDIT_ERR_MASKING_INPUT.create(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
        process.stdout.write(`${JSON.stringify(mask(event, policy, keys).event)}\n`);
      } catch (err) {
        bad++;
        // never echo the input: it is the unmasked event
        process.stderr.write(`audit-mask: event ${n}: not masked: ${(err as Error).message.slice(0, 300)}\n`);
      }
    }
    process.exitCode = bad ? 1 : 0;
  });

program
  .command('pseudonym')
  .description('print the pseudonym each value gets (hmac:<key id>:<hex>), to search masked events for it')
  .argument('<value...>', 'values, e.g. an email address')
  .option('--key-id <id>', 'use this key of the ring (events masked before a rotation)')
  .action((values: string[], o: { keyId?: string }) => {
    const keys = keysFromEnv();
    const id = o.keyId ?? keys.activeKeyId;
    const secret = keys.keys[id];
    if (secret === undefined) fail(`no key ${id} in the key ring`);
    for (const v of values) process.stdout.write(`${pseudonym(v, { id, secret })}\n`);
  });

program
  .command('check-policy')
  .description('validate a masking policy file; prints the merged policy on success')
  .argument('<file>')
  .action((file: string) => {
    process.stdout.write(`${JSON.stringify(policyFrom(file), null, 2)}\n`);
  });

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return fail((err as Error).message);
  }
}

/** NDJSON, or one (possibly pretty-printed) JSON document. */
function splitDocuments(text: string): string[] {
  const t = text.trim();
  try {
    JSON.parse(t);
    return [t];
  } catch {
    return t.split(/\r?\n/);
  }
}

await program.parseAsync();
