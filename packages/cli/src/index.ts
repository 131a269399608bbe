export { buildProgram, EXIT, type CommandModule } from './program.js';
export { runAudit } from './run.js';
export { runAuditCaptured } from './run-captured.js';
