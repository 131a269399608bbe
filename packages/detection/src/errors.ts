import { AuditError, defineErrors } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README). */
export const DETECTION_ERRORS = defineErrors({
  /** Detection configuration that does not fit the rules' settings (every problem listed). */
  AUDIT_ERR_DETECTION_CONFIG: { message: 'invalid detection rules configuration:\n  - %s' },
  /** A snapshot or journal this version cannot read. */
  AUDIT_ERR_DETECTION_STATE: { message: '%s' },
});

/** Detection configuration that does not fit the rules' settings (every problem listed). */
export class DetectionConfigError extends AuditError {
  constructor(readonly problems: string[]) {
    super(DETECTION_ERRORS.AUDIT_ERR_DETECTION_CONFIG.code, `invalid detection rules configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DetectionConfigError';
  }
}

/** A snapshot or journal this version cannot read. */
export class DetectionStateError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super(DETECTION_ERRORS.AUDIT_ERR_DETECTION_STATE.code, message, { cause });
    this.name = 'DetectionStateError';
  }
}
