import { AuditError } from '@jwt-audit/runtime';

/** Stable codes of what the archive core throws on purpose. */
export const ARCHIVE_ERRORS = {
  /** A stream's newest manifest cannot be read as a manifest: the writer refuses to extend it. */
  manifestUnreadable: 'AUDIT_ERR_ARCHIVE_MANIFEST_UNREADABLE',
  /** A stream ends before the newest checkpoint says it does: its tail was removed. */
  behindCheckpoint: 'AUDIT_ERR_ARCHIVE_BEHIND_CHECKPOINT',
  /** A checkpoint cannot be read, or is not signed by a trusted key. */
  checkpointInvalid: 'AUDIT_ERR_ARCHIVE_CHECKPOINT_INVALID',
  /** Another writer appended to the checkpoint chain too often in a row. */
  checkpointContended: 'AUDIT_ERR_ARCHIVE_CHECKPOINT_CONTENDED',
} as const;

export class ArchiveError extends AuditError {
  constructor(code: (typeof ARCHIVE_ERRORS)[keyof typeof ARCHIVE_ERRORS], message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'ArchiveError';
  }
}
