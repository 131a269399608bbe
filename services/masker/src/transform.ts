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
  // The rules applied go back to the main thread (audit_masker_rules_applied_total) with every
  // record. Events of one batch mostly share the same list, and structured cloning writes an
  // object it has already written in the same message as a reference: one array per distinct
  // list, rather than a copy of ~10 strings per record. Bounded; lists are the policy's rule ids.
  const lists = new Map<string, string[]>();
  const interned = (rules: string[]): string[] => {
    const key = rules.join('\n');
    let list = lists.get(key);
    if (list === undefined) {
      if (lists.size >= 1_000) lists.clear();
      lists.set(key, (list = rules));
    }
    return list;
  };
  return {
    transform: (event: AuditEvent) => masker.mask(event),
    notes: (out: AuditEvent) => interned(out.masking?.rulesApplied ?? []),
  };
}
