/**
 * The masker's transform as a module of its own, so it can be built on the stage's worker
 * threads (packages/kafka transform-pool.ts: createTransform(data) runs there) as well as in
 * the consumer's thread. `data` is plain: the policy file's path and the HMAC key.
 */
import type { AuditEvent } from '@jwt-audit/events';
import type { OffloadedTransform } from '@jwt-audit/kafka';
import { createMasker, DEFAULT_POLICY, DETECTOR_NAMES, loadPolicyFile, type MaskingPolicy } from '@jwt-audit/masking';

export interface MaskerTransformData {
  policyFile?: string;
  keyId: string;
  key: string;
}

/** The policy file (validated, merged over the default policy), or the default policy. */
export function loadPolicy(file: string | undefined): MaskingPolicy {
  return file ? loadPolicyFile(file, DETECTOR_NAMES) : DEFAULT_POLICY;
}

export function createTransform(data: MaskerTransformData): OffloadedTransform {
  const masker = createMasker(loadPolicy(data.policyFile), { id: data.keyId, secret: data.key });
  return {
    transform: (event: AuditEvent) => masker.mask(event),
    // the rules applied, for audit_masker_rules_applied_total on the main thread
    notes: (out: AuditEvent) => out.masking?.rulesApplied ?? [],
  };
}
