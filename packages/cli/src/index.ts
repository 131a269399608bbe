export { buildProgram, EXIT, type CommandModule } from './program.js';
export { runAudit } from './run.js';
export { runAuditCaptured } from './run-captured.js';
export { decideApproval, readApprovals, type DecisionResult } from './commands/approvals.js';
export { formatDuration } from './commands/sessions.js';
export * from './replay/api.js';
