/** Topic names. Versioned: a breaking change of a topic's contract is a new topic, not an edit. */
export const TOPICS = {
  /** Interceptor output; holds unmasked captures: short retention, restricted access. */
  raw: 'audit.raw.v1',
  masked: 'audit.masked.v1',
  enriched: 'audit.enriched.v1',
  alerts: 'audit.alerts.v1',
  /** Compacted: revoked jti / deprovisioned subjects, read back by every interceptor at start. */
  revocations: 'audit.revocations.v1',
  /**
   * Compacted: just-in-time approvals, keyed req:<id> / dec:<id>:<approver> / end:<id>; every
   * interceptor instance follows it from the beginning (as revocations), so any instance can
   * release a request another one ticketed.
   */
  approvals: 'audit.approvals.v1',
  /** Poison records with reason and origin. Restricted like raw (it may hold raw payloads). */
  dlq: 'audit.dlq.v1',
  /**
   * Compacted, keyed by archive id: each archive's newest signed checkpoint (the JWS), an anchor
   * outside the archive directory that `audit archive verify --from-topic` checks a copy against.
   */
  archiveCheckpoints: 'audit.archive-checkpoints.v1',
  /** Compacted, keyed by session id: the sessionizer's session summaries (newest revision per session). */
  sessions: 'audit.sessions.v1',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];
