export { toEcsDocument, alertToEcsDocument, withIndexTimes, isIndexableIp, ecsAction, compact, ECS_VERSION, SEVERITY_SCORE } from './ecs.js';
export { fieldTable, checkDocument, leafPaths, isIndexableDate, EVENT_FIELDS, ALERT_FIELDS, SESSION_FIELDS, MAX_TERM_BYTES, type FieldTable, type FieldSpec, type FieldProblem } from './fields.js';
export { sessionToEcsDocument } from './session.js';
