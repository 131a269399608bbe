export { canonicalTarget, removeDotSegments, type AmbiguousPathAction, type CanonicalTarget, type PathRefusalReason } from './canonical-path.js';
export { createRouter, compileRoutes, compilePattern, matchRoute, DEFAULT_METHODS, type Mode, type Refusal, type RefusalReason, type Resolution, type Route, type RouteConfig, type Router, type RouterOptions, type SpoolFullPolicy } from './routes.js';
export { ALWAYS_SECRET, BodyRecorder, captureHeaders, isTextual, resolvePolicy, sampled, secretHeaderSet, type BodyCapture, type CapturePolicy, type CaptureRule, type KnownToken, type SamplingRule, type SecretFingerprint } from './capture.js';
export { RouteConfigError } from './errors.js';
