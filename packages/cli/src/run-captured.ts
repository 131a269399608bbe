import { runAudit } from './run.js';

/**
 * `audit <args>` in this process with its output captured, for tests (runAudit is what bin.ts runs:
 * no node start-up per command line). `env` is set for the run and restored after.
 *
 * Only strings are captured: the command writes strings, while node's test runner writes its own
 * reports to the same stdout as buffers, possibly while the command runs; capturing those too
 * loses whole tests from the runner's view.
 */
export async function runAuditCaptured(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const capture = (into: string[], stream: NodeJS.WriteStream, original: typeof process.stdout.write) =>
    ((c: string | Uint8Array, ...rest: unknown[]) =>
      typeof c === 'string' ? (into.push(c), true) : original.call(stream, c, ...(rest as []))) as typeof process.stdout.write;
  process.stdout.write = capture(out, process.stdout, write.out);
  process.stderr.write = capture(err, process.stderr, write.err);
  try {
    const r = await runAudit(args);
    return { code: r.code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
