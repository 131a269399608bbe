import { AuditError, defineErrors } from '@jwt-audit/runtime';

/** The codes the archive core defines (listed in its README). */
export const ARCHIVE_CODES = defineErrors({
  /** A stream's newest manifest cannot be read as a manifest: the writer refuses to extend it. */
  AUDIT_ERR_ARCHIVE_MANIFEST_UNREADABLE: { message: '%s' },
  /** A stream ends before the newest checkpoint says it does: its tail was removed. */
  AUDIT_ERR_ARCHIVE_BEHIND_CHECKPOINT: { message: '%s' },
  /** A checkpoint cannot be read, or is not signed by a trusted key. */
  AUDIT_ERR_ARCHIVE_CHECKPOINT_INVALID: { message: '%s' },
  /** Another writer appended to the checkpoint chain too often in a row. */
  AUDIT_ERR_ARCHIVE_CHECKPOINT_CONTENDED: { message: '%s', retriable: true },
  /** A signing key file that is not an Ed25519 private JWK with a kid. */
  AUDIT_ERR_ARCHIVE_KEY_INVALID: { message: '%s: expected an Ed25519 private JWK with a kid' },
  /** seal() refused its input: no records, or a segment that does not read back as written (a bug, not data). */
  AUDIT_ERR_ARCHIVE_SEAL: { message: 'cannot seal: %s' },
});

/** Short names for the codes the writer, checkpointer and archiver branch on. */
export const ARCHIVE_ERRORS = {
  manifestUnreadable: ARCHIVE_CODES.AUDIT_ERR_ARCHIVE_MANIFEST_UNREADABLE.code,
  behindCheckpoint: ARCHIVE_CODES.AUDIT_ERR_ARCHIVE_BEHIND_CHECKPOINT.code,
  checkpointInvalid: ARCHIVE_CODES.AUDIT_ERR_ARCHIVE_CHECKPOINT_INVALID.code,
  checkpointContended: ARCHIVE_CODES.AUDIT_ERR_ARCHIVE_CHECKPOINT_CONTENDED.code,
} as const;

export class ArchiveError extends AuditError {
  constructor(code: (typeof ARCHIVE_ERRORS)[keyof typeof ARCHIVE_ERRORS], message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'ArchiveError';
  }
}
