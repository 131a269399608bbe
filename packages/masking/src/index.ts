export { createMasker, mask, type Masker } from './mask.js';
export { activeKey, parseKeyRing, pseudonym, validateKeys, type MaskingKey, type MaskingKeys } from './keys.js';
export { DEFAULT_POLICY, loadPolicyFile, parsePolicy, type MaskingPolicy, type Action } from './policy.js';
export { DETECTORS, DETECTOR_NAMES, luhn, ibanValid, type Detector } from './detectors.js';
export { MASKING_ERRORS } from './errors.js';
