export {
  toEcsDocument,
  alertToEcsDocument,
  withIndexTimes,
  isIndexableIp,
  ecsAction,
  categoryOf,
  splitHost,
  compact,
  ECS_VERSION,
  SEVERITY_SCORE,
  EVENTS_INDEX_PATTERN,
  ALERTS_INDEX_PATTERN,
  eventsDataStream,
  alertsDataStream,
} from './ecs.js';
export { fieldTable, checkDocument, leafPaths, isIndexableDate, EVENT_FIELDS, ALERT_FIELDS, SESSION_FIELDS, MAX_TERM_BYTES, type FieldTable, type FieldSpec, type FieldProblem } from './fields.js';
export { sessionToEcsDocument } from './session.js';
