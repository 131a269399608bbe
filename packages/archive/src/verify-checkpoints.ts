/**
 * The completeness half of verify: a topic's checkpoint chain (every link, one signature), the
 * checkpoint verification starts from (the newest, or an expected head given from outside the
 * archive), and what that checkpoint says must be there against what is.
 */
import type { JSONWebKeySet } from 'jose';
import { checkpointPayload, checkpointPrefix, type Checkpoint, type ExpectedHead } from './checkpoint.js';
import { ZERO_HASH } from './format.js';
import { verifyJws } from './keys.js';
import { sha256hex } from './segment.js';
import type { ArchiveStorage } from './storage.js';
import type { Finding, FindingKind } from './verify.js';

interface StoredCheckpoint {
  file: string;
  c: Checkpoint;
  sha256: string;
  jws: string;
}

export interface CheckpointPlan {
  topic: string;
  findings: Finding[];
  /** The newest checkpoint whose signature verifies. */
  newest: StoredCheckpoint | undefined;
  bySeq: Map<number, StoredCheckpoint>;
  bySha: Map<string, StoredCheckpoint>;
  files: number;
}

/** What verify starts from for one topic, as the report shows it. */
export interface CheckpointUsed {
  topic: string;
  archive: string;
  sequence: number;
  sha256: string;
  createdAt: number;
  ageMs: number;
  partitionCount: number;
  /** 'archive': the newest in the archive; 'expected-head': the one given with --expect-head / --from-topic, not found in the archive. */
  source: 'archive' | 'expected-head';
  /** An expected head was given and the archive's chain holds it. */
  anchored: boolean;
}

const messages: Record<'unknown-key' | 'bad-signature' | 'malformed', [FindingKind, string]> = {
  'unknown-key': ['unknown-key', 'checkpoint signed with a key that is not in the trusted key set'],
  'bad-signature': ['forged', 'checkpoint signature does not verify: the checkpoint was altered or forged'],
  malformed: ['malformed', 'checkpoint is not a valid JWS'],
};

export async function checkCheckpoints(storage: ArchiveStorage, jwks: JSONWebKeySet, topic: string): Promise<CheckpointPlan> {
  const stream = checkpointPrefix(topic);
  const findings: Finding[] = [];
  const add = (kind: FindingKind, file: string, message: string) => findings.push({ kind, stream, file, message });
  const keys = (await storage.list(stream)).filter((k) => k.endsWith('.checkpoint.jws'));
  const stored: StoredCheckpoint[] = [];
  let previous: { seq: number; sha256: string } | undefined;
  for (const key of keys) {
    const file = key.slice(stream.length);
    const fileSeq = Number(file.split('.')[0]);
    const bytes = await storage.get(key);
    const sha256 = sha256hex(bytes);
    const jws = bytes.toString();
    const c = checkpointPayload(jws);
    if (!c) {
      add('malformed', file, 'not a checkpoint');
      previous = { seq: fileSeq, sha256 };
      continue;
    }
    if (c.topic !== topic) add('inserted', file, `checkpoint belongs to ${c.topic}, not to this topic`);
    if (c.sequence !== fileSeq) add('reordered', file, `checkpoint says sequence ${c.sequence} but is stored as ${fileSeq}`);
    const expected = previous ? previous.seq + 1 : 0;
    if (fileSeq > expected) add('checkpoint-gap', file, `checkpoint(s) ${expected}..${fileSeq - 1} missing before this one`);
    else if (c.previousCheckpointSha256 !== (previous?.sha256 ?? ZERO_HASH))
      add('checkpoint-gap', file, 'checkpoint chain broken: the previous-checkpoint hash does not match the checkpoint before it');
    previous = { seq: fileSeq, sha256 };
    stored.push({ file, c, sha256, jws });
  }
  // One signature: the newest that verifies authenticates every earlier one through the hashes.
  let newest: StoredCheckpoint | undefined;
  for (let i = stored.length - 1; i >= 0 && !newest; i--) {
    const s = stored[i]!;
    const res = await verifyJws(s.jws, jwks);
    if (res.ok) newest = s;
    else add(messages[res.reason][0], s.file, messages[res.reason][1]);
  }
  return {
    topic,
    findings,
    newest,
    bySeq: new Map(stored.map((s) => [s.c.sequence, s])),
    bySha: new Map(stored.map((s) => [s.sha256, s])),
    files: keys.length,
  };
}

/** The part of a manifest chain that completeness needs. */
export interface ChainSummary {
  /** SHA-256 of each manifest file present, by sequence. */
  manifestSha: Map<number, string>;
  /** Highest manifest sequence present; -1 when none. */
  lastSequence: number;
}

export function describeAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} days`;
}

/**
 * Picks the checkpoint to start from (findings about an expected head go to `add`) and returns
 * it, or undefined when there is none.
 */
export async function chooseCheckpoint(
  plan: CheckpointPlan,
  jwks: JSONWebKeySet,
  expected: ExpectedHead | undefined,
  add: (kind: FindingKind, file: string, message: string) => void,
): Promise<{ c: Checkpoint; sha256: string; source: 'archive' | 'expected-head'; anchored: boolean } | undefined> {
  const local = plan.newest ? { c: plan.newest.c, sha256: plan.newest.sha256, source: 'archive' as const, anchored: false } : undefined;
  if (!expected) return local;
  const found = plan.bySha.get(expected.sha256);
  if (found) {
    if (plan.newest && found.c.sequence <= plan.newest.c.sequence) return { ...local!, anchored: true };
    return { c: found.c, sha256: found.sha256, source: 'archive', anchored: true };
  }
  if (!expected.jws) {
    add(
      'head-mismatch',
      '(expected head)',
      `no checkpoint in the archive has SHA-256 ${expected.sha256} (the expected head): it was removed, with the data it covers, or this is another archive${plan.newest ? `; the archive's newest checkpoint is ${plan.newest.c.sequence} (sha256:${plan.newest.sha256})` : ''}`,
    );
    return local;
  }
  const res = await verifyJws(expected.jws, jwks);
  if (!res.ok) {
    add(res.reason === 'unknown-key' ? 'unknown-key' : 'forged', '(expected head)', `the expected head does not verify (${res.reason}): it cannot be trusted`);
    return local;
  }
  const head = checkpointPayload(expected.jws)!;
  const same = plan.bySeq.get(head.sequence);
  const when = new Date(head.createdAt).toISOString();
  if (same)
    add(
      'head-mismatch',
      same.file,
      `checkpoint ${head.sequence} differs from the expected head of ${head.archive} (written ${when}): the checkpoint chain was rewritten`,
    );
  else
    add(
      'head-mismatch',
      '(expected head)',
      `the expected head, checkpoint ${head.sequence} of ${head.archive} (written ${when}), is not in the archive (${plan.newest ? `its newest checkpoint is ${plan.newest.c.sequence}` : 'it holds no checkpoint'}): checkpoints were removed`,
    );
  // The expected head is authentic; a newer local checkpoint is only trusted as far as its own signature.
  if (local && local.c.sequence > head.sequence) return local;
  return { c: head, sha256: expected.sha256, source: 'expected-head', anchored: false };
}

/** What the checkpoint says each partition holds, against the chains present. */
export function checkCoverage(
  c: Checkpoint,
  topic: string,
  chains: Map<number, ChainSummary>,
  partitionFilter: number | undefined,
  add: (kind: FindingKind, stream: string, file: string, message: string) => void,
  warn: (kind: FindingKind, stream: string, file: string, message: string) => void,
): void {
  const label = `checkpoint ${c.sequence} (${new Date(c.createdAt).toISOString()})`;
  for (let p = 0; p < c.partitionCount; p++) {
    if (partitionFilter !== undefined && p !== partitionFilter) continue;
    const stream = `${topic}/${p}/`;
    const mark = c.partitions[p];
    if (!mark || mark.partition !== p) {
      add('malformed', checkpointPrefix(topic), `${c.sequence}`, `${label} has no mark for partition ${p}`);
      continue;
    }
    const chain = chains.get(p);
    const says = `${label} says its chain reaches manifest ${mark.sequence} (offsets ${mark.firstOffset}..${mark.lastOffset})`;
    if (mark.sequence < 0) continue;
    if (!chain) {
      add('partition-missing', stream, '', `partition ${p} is missing from the archive: ${says}`);
      continue;
    }
    const sha = chain.manifestSha.get(mark.sequence);
    if (sha === undefined) {
      if (chain.lastSequence < mark.sequence)
        add(
          'tail-truncated',
          stream,
          '',
          `chain ends at manifest ${chain.lastSequence}, ${says}: manifest(s) ${chain.lastSequence + 1}..${mark.sequence} and their segments were removed`,
        );
      else add('manifest-deleted', stream, '', `manifest ${mark.sequence} is missing: ${says}`);
    } else if (sha !== mark.manifestSha256)
      add('changed', stream, '', `manifest ${mark.sequence} is not the one ${label} commits to (its SHA-256 differs): the chain was rewritten`);
    if (chain.lastSequence > mark.sequence)
      warn('not-covered', stream, '', `manifest(s) ${mark.sequence + 1}..${chain.lastSequence} were sealed after ${label}: no checkpoint covers them yet`);
  }
  for (const p of chains.keys()) {
    if (p >= c.partitionCount && (partitionFilter === undefined || p === partitionFilter))
      warn('not-covered', `${topic}/${p}/`, '', `partition ${p} is not covered: ${label} names ${c.partitionCount} partition(s)`);
  }
}
