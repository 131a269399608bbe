/**
 * Retry policies, as data, in one place: every call site in the project that retries names its
 * policy here (RETRY_POLICIES), and packages/runtime/README.md has the table. A call site that
 * lets its user tune a policy (the alert webhook's attempts and delays, the runner's options)
 * starts from the entry here and overrides fields with `retryPolicy(base, overrides)`.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included; Infinity: until the caller stops. */
  readonly attempts: number;
  /** The ceiling of the first retry's delay, doubled per attempt up to maxMs. */
  readonly initialMs: number;
  readonly maxMs: number;
  /** A floor under every delay (no retry sooner than this, whatever the jitter drew). */
  readonly minMs: number;
  /**
   * 'full': a random delay in [0, ceiling] (AWS's "full jitter"): many clients retrying the same
   * failed dependency spread out instead of retrying in lockstep; 'none': the ceiling itself.
   * 'kafkajs': kafkajs applies its own (a 0.2 randomisation factor, multiplier 2).
   */
  readonly jitter: 'full' | 'none' | 'kafkajs';
  /** One attempt's time limit, where the call site bounds an attempt (0: none). */
  readonly timeoutMs: number;
  /** Which failures are retried (anything else is permanent: DLQ, or the error surfaces). */
  readonly retryOn: {
    /** An AuditError's `retriable` flag (and @jwt-audit/kafka's failure classes) decides. */
    readonly retriableFlag?: boolean;
    /** HTTP statuses, single or as inclusive [from, to] ranges. */
    readonly statuses?: ReadonlyArray<number | readonly [number, number]>;
    /** Connection errors and timeouts (no response at all). */
    readonly network?: boolean;
  };
}

const FIVE_XX = [500, 599] as const;

/**
 * Every retrying call site's policy. Values are what the code did before they were gathered here
 * (behaviour unchanged); the README table says where each is used.
 */
export const RETRY_POLICIES = {
  /** @jwt-audit/kafka runner: a failed batch (handler, sink, produce, commit), retried however long; the partition waits. */
  consumerBatch: { attempts: Infinity, initialMs: 200, maxMs: 10_000, minMs: 0, jitter: 'full', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** @jwt-audit/kafka supervised consumer: re-creating a consumer kafkajs stopped without restarting it. */
  consumerRelaunch: { attempts: 10, initialMs: 1_000, maxMs: 30_000, minMs: 0, jitter: 'full', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** Every kafkajs client's own request retries (createKafkaClient): short, the callers above retry whole batches. */
  kafkaClient: { attempts: 6, initialMs: 100, maxMs: 5_000, minMs: 0, jitter: 'kafkajs', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** The interceptor's kafkajs client: shorter still, a failed send is spooled and retried by the publisher. */
  interceptorKafkaClient: {
    attempts: 3,
    initialMs: 100,
    maxMs: 1_000,
    minMs: 0,
    jitter: 'kafkajs',
    timeoutMs: 1_000,
    retryOn: { retriableFlag: true, network: true },
  },
  /** The interceptor's publisher: one send of a batch to Kafka; past the timeout the batch is spooled. */
  publisherSend: { attempts: 1, initialMs: 0, maxMs: 0, minMs: 0, jitter: 'none', timeoutMs: 10_000, retryOn: {} },
  /** The interceptor's publisher loop, restarted after any error. */
  publisherLoop: { attempts: Infinity, initialMs: 100, maxMs: 5_000, minMs: 50, jitter: 'full', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** The interceptor's spool drain: the oldest spooled batch re-sent to Kafka. */
  spoolDrain: { attempts: Infinity, initialMs: 200, maxMs: 5_000, minMs: 100, jitter: 'full', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** The interceptor's spool cursor write (the cursor in memory is the truth meanwhile). */
  spoolCursor: { attempts: Infinity, initialMs: 200, maxMs: 5_000, minMs: 100, jitter: 'full', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** The interceptor's revocation and approval followers: joining again after Kafka refused or was unreachable; the edge serves meanwhile. */
  follower: { attempts: Infinity, initialMs: 5_000, maxMs: 5_000, minMs: 0, jitter: 'none', timeoutMs: 0, retryOn: { retriableFlag: true, network: true } },
  /** The indexer's template install at start: Elasticsearch may still be starting (a refused setting fails at once). */
  indexerTemplates: {
    attempts: Infinity,
    initialMs: 500,
    maxMs: 10_000,
    minMs: 0,
    jitter: 'full',
    timeoutMs: 0,
    retryOn: { statuses: [429, FIVE_XX], network: true },
  },
  /** The indexer's bulk items: these statuses retry the batch (through consumerBatch); other 4xx go to the DLQ. */
  indexerBulkItem: {
    attempts: Infinity,
    initialMs: 200,
    maxMs: 10_000,
    minMs: 0,
    jitter: 'full',
    timeoutMs: 0,
    retryOn: { statuses: [429, FIVE_XX], network: true },
  },
  /** The alert webhook's delivery of one alert (config: maxAttempts, retry.*, webhook.timeoutMs); Retry-After is honoured up to maxMs. */
  webhookDelivery: {
    attempts: 8,
    initialMs: 500,
    maxMs: 30_000,
    minMs: 0,
    jitter: 'full',
    timeoutMs: 5_000,
    retryOn: { statuses: [408, 425, 429, FIVE_XX], network: true },
  },
} as const satisfies Record<string, RetryPolicy>;

/** A policy with some fields replaced (a user's settings over the default). */
export function retryPolicy(base: RetryPolicy, overrides: Partial<Omit<RetryPolicy, 'retryOn'>>): RetryPolicy {
  const out = { ...base };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The delay before retry number `attempt` (0 = the first retry) under the policy. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const delay = policy.jitter === 'full' ? Math.round(ceiling * random()) : ceiling;
  return Math.max(policy.minMs, delay);
}

/** Whether another attempt is allowed after `made` attempts. */
export function attemptsLeft(policy: RetryPolicy, made: number): boolean {
  return made < policy.attempts;
}

/** Whether the policy retries a response with this HTTP status. */
export function retriesStatus(policy: RetryPolicy, status: number): boolean {
  return (policy.retryOn.statuses ?? []).some((s) => (typeof s === 'number' ? s === status : status >= s[0] && status <= s[1]));
}

/** The policy as kafkajs's `retry` client option (kafkajs counts retries, not attempts). */
export function kafkajsRetry(policy: RetryPolicy): { initialRetryTime: number; maxRetryTime: number; retries: number } {
  return { initialRetryTime: policy.initialMs, maxRetryTime: policy.maxMs, retries: Math.max(0, policy.attempts - 1) };
}

/**
 * Exponential backoff with full jitter (a random delay in [0, min(max, initial * 2^attempt)]):
 * the primitive under retryDelay, for callers with their own numbers (tests, benchmarks).
 */
export function backoffDelay(attempt: number, initialMs = 100, maxMs = 10_000, random: () => number = Math.random): number {
  return retryDelay({ ...RETRY_POLICIES.consumerBatch, initialMs, maxMs }, attempt, random);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
