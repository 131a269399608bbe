export { toEcsDocument, alertToEcsDocument, ecsAction, compact, ECS_VERSION, SEVERITY_SCORE } from './ecs.js';
