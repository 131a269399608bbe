import { loadJwks, localStorage, manifestsOf, prove, verifyArchive, type InclusionProof, type VerifyReport } from '@jwt-audit/archive';
import { CONSOLE_ERRORS } from './errors.js';

/**
 * The Integrity page's facts: the archive verified as `audit archive verify` does (packages/archive),
 * per partition the last verified segment, the key ids that signed its manifests and any finding
 * named; and an event's inclusion proof as `audit archive prove` writes it.
 */
export interface PartitionState {
  stream: string;
  segments: number;
  records: number;
  lastSegment: string | undefined;
  keyIds: string[];
  findings: string[];
}

export interface Integrity {
  readonly configured: boolean;
  readonly dir: string;
  verify(): Promise<{ report: VerifyReport; partitions: PartitionState[]; checkedAt: string }>;
  /** The last verification, if any (verifying a large archive takes a while: the page shows the last one). */
  last(): { report: VerifyReport; partitions: PartitionState[]; checkedAt: string } | undefined;
  proof(eventId: string): Promise<InclusionProof | undefined>;
}

const kidOf = (jws: string): string | undefined => {
  try {
    return (JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()) as { kid?: string }).kid;
  } catch {
    return undefined;
  }
};

export function createIntegrity(dir: string, jwksFile: string): Integrity {
  let last: { report: VerifyReport; partitions: PartitionState[]; checkedAt: string } | undefined;
  let running: Promise<NonNullable<typeof last>> | undefined;
  const storage = dir ? localStorage(dir) : undefined;
  const run = async () => {
    const jwks = await loadJwks(jwksFile);
    const report = await verifyArchive(storage!, jwks, { location: dir });
    const partitions: PartitionState[] = [];
    for (const stream of await storage!.streams()) {
      const ms = (await manifestsOf(storage!, stream)).filter(({ m }) => m.type === 'segment').sort((a, b) => a.m.sequence - b.m.sequence);
      partitions.push({
        stream,
        segments: ms.length,
        records: ms.reduce((n, { m }) => n + m.recordCount, 0),
        lastSegment: ms.at(-1)?.m.segment,
        keyIds: [...new Set(ms.map(({ jws }) => kidOf(jws)).filter((k): k is string => !!k))],
        findings: report.findings.filter((f) => f.stream === stream).map((f) => `${f.kind}: ${f.file} ${f.message}`),
      });
    }
    last = { report, partitions, checkedAt: new Date().toISOString() };
    return last;
  };
  return {
    configured: storage !== undefined,
    dir,
    verify() {
      if (!storage) return Promise.reject(CONSOLE_ERRORS.AUDIT_ERR_CONSOLE_NO_ARCHIVE.create());
      running ??= run().finally(() => (running = undefined));
      return running;
    },
    last: () => last,
    async proof(eventId) {
      if (!storage) return undefined;
      return prove(storage, eventId);
    },
  };
}
