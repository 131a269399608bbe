export { canonicalTarget, removeDotSegments, type AmbiguousPathAction, type CanonicalTarget, type PathRefusalReason } from './canonical-path.js';
export {
  createRouter,
  compileRoutes,
  compilePattern,
  matchRoute,
  DEFAULT_METHODS,
  type Mode,
  type Refusal,
  type RefusalReason,
  type Resolution,
  type Route,
  type RouteConfig,
  type Router,
  type RouterOptions,
  type SpoolFullPolicy,
} from './routes.js';
export {
  ALWAYS_SECRET,
  BodyRecorder,
  captureHeaders,
  isTextual,
  resolvePolicy,
  sampled,
  secretHeaderSet,
  type BodyCapture,
  type CapturePolicy,
  type CaptureRule,
  type KnownToken,
  type SamplingRule,
  type SecretFingerprint,
} from './capture.js';
export { bearerChallenge, challengeQuoted, decide, refusalDecision, type DecideOptions, type Decision } from './decision.js';
export {
  answerPreflight,
  corsResponseHeaders,
  isSerializedOrigin,
  preflightOf,
  type CorsConfig,
  type CorsPolicy,
  type PreflightAction,
  type PreflightRequest,
} from './preflight.js';
export { actorOf, baseEvent, EMPTY_ACTOR, exchangeEvent, rejectionOf, tokenEvent, tokenOf, type AuthResult, type Exchange } from './exchange-events.js';
export { hopTrace, parseTraceparent, type HopTrace, type ParsedTraceparent } from './trace-context.js';
export { invalidForwardedFor, networkOf, normalizeIp, parseForwardedFor, trustedProxies, trustedProxyProblems, type TrustedProxies } from './client-ip.js';
export { FamilyTracker, observeTokenEndpoint, type Observed, type TokenEndpointInput } from './token-endpoint.js';
export { problem, PROBLEMS, type Problem } from './problem.js';
export { EDGE_ERRORS, RouteConfigError } from './errors.js';
export {
  APPROVAL_DEFAULTS,
  APPROVAL_HEADER,
  approvalRuleFor,
  bodyConditionHolds,
  candidateRules,
  compileApprovalRules,
  parseApprovalHeader,
  requestFingerprint,
  sha256Hex,
  type ApprovalHeader,
  type ApprovalMode,
  type ApprovalRule,
  type ApprovalRuleConfig,
  type FingerprintInput,
} from './approvals.js';
export {
  ApprovalBook,
  approvalIdOfKey,
  approvalKey,
  checkDecision,
  useClaimKey,
  type ApprovalStatus,
  type ApprovalView,
  type DecisionCheck,
} from './approval-state.js';
export { approvalEvent, approvalInfo, approvalRequestedAlert, type ApprovalEventKind } from './approval-events.js';
