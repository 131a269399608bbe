import { AuditError } from '@jwt-audit/runtime';

/** Detection configuration that does not fit the rules' settings (every problem listed). */
export class DetectionConfigError extends AuditError {
  constructor(readonly problems: string[]) {
    super('AUDIT_ERR_DETECTION_CONFIG', `invalid detection rules configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DetectionConfigError';
  }
}

/** A snapshot or journal this version cannot read. */
export class DetectionStateError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super('AUDIT_ERR_DETECTION_STATE', message, { cause });
    this.name = 'DetectionStateError';
  }
}
