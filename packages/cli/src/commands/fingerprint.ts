import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { EXIT } from '../program.js';

/**
 * `audit fingerprint [value]`: the fingerprint an audit event carries for a value an investigator
 * holds (a token, a cookie, an API key, a Basic credential), to search the index for it. The
 * value comes from the argument or, better (it stays out of shell history), from stdin.
 *   --token          token.fingerprint: hex SHA-256 of the token's canonical form (JWTs: RFC 7515 base64url)
 *   --header <name>  the value as http.*.headers.<name> shows it: a Bearer credential in
 *                    authorization as sha256:<token fingerprint>, every other secret header as
 *                    hmac:<key id>:<hex>, keyed with the interceptor's AUDIT_FINGERPRINT_KEYS
 *                    (`id:secret,...`, or AUDIT_FINGERPRINT_KEYS_FILE); --key-id for an older key
 * Exit codes: 0 printed, 2 usage or key configuration error.
 */

export function register(program: Command): void {
  program
    .command('fingerprint')
    .description('print the fingerprint audit events carry for a value you hold (a token, or a secret header value), to search for it')
    .argument('[value]', 'the value; read from stdin when absent (keeps it out of shell history)')
    .option('--token', 'the value is a token: print token.fingerprint')
    .option('--header <name>', "the value is this request/response header's value: print it as the event's headers map shows it")
    .option('--key-id <id>', 'with --header: the key an older event names (default: the active key)')
    .option('--json', 'JSON output')
    .action(async (value: string | undefined, o: { token?: boolean; header?: string; keyId?: string; json?: boolean }) => {
      const { FingerprintUsageError, fingerprintOf } = await import('../fingerprint-of.js');
      let out: Record<string, unknown>;
      try {
        if (!o.token === !o.header) throw new FingerprintUsageError('give exactly one of --token or --header <name>');
        out = fingerprintOf(value ?? readFileSync(0, 'utf8').replace(/\r?\n$/, ''), o);
      } catch (err) {
        if (!(err instanceof FingerprintUsageError)) throw err;
        process.stderr.write(`audit fingerprint: ${err.message}\n`);
        process.exit(EXIT.usage);
      }
      process.stdout.write(o.json ? `${JSON.stringify(out)}\n` : `${String(out.fingerprint)}\n`);
      if (!o.json && out.kind === 'token' && out.canonical === false)
        process.stderr.write('note: the token is not in canonical base64url; the verifier refuses it (non_canonical), and its events carry this fingerprint\n');
    });
}
