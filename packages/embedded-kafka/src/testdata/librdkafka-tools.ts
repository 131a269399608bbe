import { execFile, spawnSync } from 'node:child_process';

/**
 * What the librdkafka conformance suites (conformance/librdkafka*.test.ts) run: Debian's kcat and
 * python3-confluent-kafka (librdkafka 2.0.2), which .ci/run installs.
 */
export const PYTHON = '/usr/bin/python3';

/** Fails naming what is missing and how to install it. */
export function requireTools(): void {
  const missing: string[] = [];
  if (spawnSync('kcat', ['-V']).status !== 0) missing.push('kcat');
  if (spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status !== 0) missing.push('python3-confluent-kafka');
  if (missing.length > 0)
    throw new Error(`the librdkafka conformance tests need ${missing.join(' and ')}: apt-get install -y kcat python3-confluent-kafka (.ci/run installs them)`);
}

/** Runs a client to its end (killed after `timeoutMs`): its exit code and output. */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}
