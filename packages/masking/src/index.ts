export { createMasker, type Masker, type MaskingKey } from './mask.js';
export { DEFAULT_POLICY, parsePolicy, type MaskingPolicy, type Action } from './policy.js';
export { DETECTORS, luhn, ibanValid, type Detector } from './detectors.js';
