import type { Kafka, Consumer } from '@jwt-audit/kafka';
import { TOPICS, revocationCodec, type Revocation } from '@jwt-audit/events';
import type { RevocationCheck } from '@jwt-audit/jwt';
import { toAuditError, type Logger } from '@jwt-audit/runtime';
import { randomUUID } from 'node:crypto';

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
 * Follows audit.revocations.v1 from the beginning with a consumer group of its own (every
 * interceptor instance needs every partition; nothing is committed). start() resolves once the
 * state has caught up with the end offsets measured at start, or after `startupTimeoutMs`.
 */
export class RevocationFollower {
  private consumer: Consumer | undefined;
  ready = false;
  private readonly log: Logger;

  constructor(
    private readonly kafka: Kafka,
    readonly state: RevocationState,
    logger: Logger,
    private readonly opts: { startupTimeoutMs: number; groupPrefix: string; onApplied?: (n: number) => void },
  ) {
    this.log = logger.child({ component: 'revocations' });
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    const groupId = `${this.opts.groupPrefix}-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    this.consumer = consumer;
    let targets = new Map<number, bigint>();
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(TOPICS.revocations);
      targets = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const caughtUp = new Map<number, boolean>([...targets].map(([p, high]) => [p, high === 0n]));
    let markReady: () => void = () => {};
    const readyPromise = new Promise<void>((resolve) => (markReady = resolve));
    const check = () => {
      if (!this.ready && [...caughtUp.values()].every(Boolean)) {
        this.ready = true;
        markReady();
      }
    };
    check();
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.revocations, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let n = 0;
        for (const m of batch.messages) {
          const key = m.key?.toString() ?? '';
          try {
            const value = m.value === null ? null : revocationCodec.decode(m.value, m.headers as Record<string, Buffer>);
            this.state.apply(key, value);
            n++;
          } catch (err) {
            this.log.warn({ partition: batch.partition, offset: m.offset, err: toAuditError(err).message }, 'undecodable revocation record skipped');
          }
        }
        this.opts.onApplied?.(n);
        const target = targets.get(batch.partition);
        if (target !== undefined && BigInt(batch.lastOffset()) + 1n >= target) caughtUp.set(batch.partition, true);
        check();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([readyPromise, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.startupTimeoutMs)))]);
    clearTimeout(timer);
    if (!this.ready) this.log.warn({ timeoutMs: this.opts.startupTimeoutMs }, 'revocation state not caught up at start; serving while it catches up');
    else this.log.info(this.state.size(), 'revocation state rebuilt');
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    await c?.disconnect().catch(() => {});
  }
}
