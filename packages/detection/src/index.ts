export {
  createDetectorState,
  detect,
  advance,
  alertId,
  stateStats,
  repartitionKeys,
  partitioningOfKey,
  snapshotState,
  restoreState,
  drainChanges,
  applyChanges,
  type DetectorState,
  type DetectorOptions,
  type DetectResult,
  type DetectorSnapshot,
  type StateChanges,
} from './detector.js';
export { resolveDetectionConfig, detectionConfigSchema, type DetectionConfig, type ResolvedDetectionConfig } from './config.js';
export { RULES } from './rules/index.js';
export { RULE_IDS, REPARTITIONED, type RuleId, type Partitioning, type RuleDefinition, type Finding, type CommonRuleConfig } from './types.js';
export { DETECTION_ERRORS, DetectionConfigError, DetectionStateError } from './errors.js';
export { generateScenario, evaluate, type Scenario, type AttackTrace, type ScenarioOptions, type RuleScore } from './scenario.js';
