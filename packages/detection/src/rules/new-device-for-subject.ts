import { asnOf, deviceOf, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * new-device-for-subject: a user agent (browser / OS / device family, versions ignored) or a
 * network (ASN) never seen for this subject, after the subject's learning period. Low severity:
 * new phones and travel are common; its value is as context next to other alerts.
 *
 * Catches: account takeover from the attacker's own machine or network, the first use of a
 * stolen token or password elsewhere.
 *
 * State: per subject, when it was first seen and its last `maxDevices` devices / `maxAsns`
 * networks (most recent last). A device dropped from the list alerts again when it comes back.
 */
export interface NewDeviceConfig extends CommonRuleConfig {
  /** New devices and networks are learnt silently for this long after a subject is first seen (ms). */
  learningMs: number;
  maxDevices: number;
  maxAsns: number;
  /** A subject not seen for this long is forgotten (ms). */
  memoryMs: number;
  /**
   * Alert only when the device and the network are both new (default): a new phone on the
   * usual carrier, a new browser at home, the usual laptop in a hotel are everyday events; an
   * unknown machine on an unknown network is what a takeover looks like.
   */
  requireBoth: boolean;
}

type Entry = [firstSeen: number, devices: string[], asns: number[]];

function remember<T>(list: T[], value: T, max: number): boolean {
  const i = list.indexOf(value);
  if (i >= 0) {
    if (i !== list.length - 1) {
      list.splice(i, 1);
      list.push(value);
    }
    return false;
  }
  list.push(value);
  if (list.length > max) list.shift();
  return true;
}

export const newDeviceForSubject: RuleDefinition<NewDeviceConfig, Entry> = {
  id: 'new-device-for-subject',
  name: 'new-device-for-subject',
  partitioning: 'subject',
  catches: "first-seen user agent or network for a subject: takeover from the attacker's machine (low severity, context)",
  defaults: {
    enabled: true,
    severity: 'low',
    suppressMs: 6 * 3_600_000,
    maxKeys: 1_000_000,
    learningMs: 24 * 3_600_000,
    maxDevices: 8,
    maxAsns: 8,
    memoryMs: 90 * 86_400_000,
    requireBoth: true,
  },
  respond: 'confirm with the subject that the device and network are theirs; if not, revoke its sessions and reset the password',
  key: (e) => (e.actor.sub && isVerified(e) && (deviceOf(e) !== null || asnOf(e) !== null) ? e.actor.sub : null),
  ttlMs: (c) => c.memoryMs,
  step(entry, e, c) {
    const device = deviceOf(e);
    const asn = asnOf(e);
    const st: Entry = entry ?? [e.occurredAt, [], []];
    const newDevice = device !== null && remember(st[1], device, c.maxDevices);
    const newAsn = asn !== null && remember(st[2], asn, c.maxAsns);
    if (!entry || e.occurredAt < st[0] + c.learningMs || (!newDevice && !newAsn) || (c.requireBoth && !(newDevice && newAsn))) return { entry: st };
    const what = [newDevice ? `user agent ${device}` : null, newAsn ? `network AS${asn}` : null].filter(Boolean).join(' and ');
    return {
      entry: st,
      findings: [
        {
          evidence: [e.id],
          count: 1,
          windowMs: 0,
          firstSeen: e.occurredAt,
          description: `subject ${e.actor.sub} seen from a new ${what}`,
          attributes: { newDevice: String(newDevice), newAsn: String(newAsn), ...(device ? { device } : {}), ...(asn !== null ? { asn: String(asn) } : {}) },
        },
      ],
    };
  },
};
