import { CompactedTopicFollower, type Kafka } from '@jwt-audit/kafka';
import { TOPICS, revocationCodec, type Revocation } from '@jwt-audit/events';
import type { RevocationCheck } from '@jwt-audit/jwt';
import type { Logger } from '@jwt-audit/runtime';

/**
 * Revocation state, rebuilt from the compacted audit.revocations.v1 topic:
 *   key "jti:<jti>"  -> that token is revoked (until its expiresAt, after which it is forgotten)
 *   key "sub:<sub>"  -> the subject is deprovisioned: all its tokens are refused
 *   null value (tombstone) -> lifted
 */
export class RevocationState implements RevocationCheck {
  private readonly jtis = new Map<string, number | null>();
  private readonly subjects = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  apply(key: string, value: Revocation | null): void {
    if (key.startsWith('jti:')) {
      const jti = key.slice(4);
      if (value === null) this.jtis.delete(jti);
      else this.jtis.set(jti, value.expiresAt);
    } else if (key.startsWith('sub:')) {
      const sub = key.slice(4);
      if (value === null) this.subjects.delete(sub);
      else this.subjects.set(sub, value.revokedAt);
    }
  }

  isJtiRevoked(jti: string): boolean {
    if (!this.jtis.has(jti)) return false;
    const exp = this.jtis.get(jti);
    if (exp !== null && exp !== undefined && exp < this.now()) {
      this.jtis.delete(jti); // the token has expired anyway
      return false;
    }
    return true;
  }

  isSubjectRevoked(sub: string): boolean {
    return this.subjects.has(sub);
  }

  size(): { jtis: number; subjects: number } {
    return { jtis: this.jtis.size, subjects: this.subjects.size };
  }

  /** Drops expired jti entries (bounded memory under a steady stream of revocations). */
  sweep(): void {
    const now = this.now();
    for (const [jti, exp] of this.jtis) if (exp !== null && exp < now) this.jtis.delete(jti);
  }
}

export function revocationKey(r: Pick<Revocation, 'target' | 'value'>): string {
  return `${r.target === 'jti' ? 'jti' : 'sub'}:${r.value}`;
}

/**
 * Follows audit.revocations.v1 from the beginning (packages/kafka's CompactedTopicFollower: a
 * consumer group of its own, every partition, nothing committed). start() resolves once the state
 * has caught up with the end offsets measured at start, or after `startupTimeoutMs`.
 */
export type RevocationFollower = CompactedTopicFollower<Revocation>;

export function revocationFollower(
  kafka: Kafka,
  state: RevocationState,
  logger: Logger,
  opts: { startupTimeoutMs: number; groupPrefix: string; onApplied?: (n: number) => void },
): RevocationFollower {
  return new CompactedTopicFollower(kafka, logger, {
    topic: TOPICS.revocations,
    component: 'revocations',
    decode: (value, headers) => revocationCodec.decode(value, headers as Record<string, Buffer>),
    onBatch: (records) => {
      for (const r of records) state.apply(r.key, r.value);
      opts.onApplied?.(records.length);
    },
    describeState: () => state.size(),
    groupPrefix: opts.groupPrefix,
    startupTimeoutMs: opts.startupTimeoutMs,
  });
}
