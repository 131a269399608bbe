import { asnOf, clientIp, deviceOf, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * unusual-hour: a subject active at an hour of day it never used (nor the hours next to it),
 * from a device (user agent family) it never used, after a learning period.
 *
 * Catches: stolen credentials or sessions used while the owner sleeps (attackers in another
 * time zone, or waiting for the night to avoid notice). Either fact alone is everyday (a late
 * evening, a new Wi-Fi); together, with the owner's history, they are worth a look. Medium
 * severity: travellers who change time zone and network can trip it.
 *
 * A new address or network is not novelty enough: phones behind carrier-grade NAT get a new
 * address every few minutes, travellers change network and time zone together.
 *
 * State: per subject, when first seen, activity per UTC hour (24 counts, capped) and the last
 * 8 devices and 8 networks.
 */
export interface UnusualHourConfig extends CommonRuleConfig {
  learningMs: number;
  /** Hours on each side that must be empty too. */
  marginHours: number;
  memoryMs: number;
}

type Entry = [firstSeen: number, hours: number[], seen: string[]];

function remember(seen: string[], v: string): boolean {
  if (seen.includes(v)) return false;
  seen.push(v);
  if (seen.length > 16) seen.shift();
  return true;
}

export const unusualHour: RuleDefinition<UnusualHourConfig, Entry> = {
  id: 'unusual-hour',
  name: 'unusual-hour',
  partitioning: 'subject',
  catches: 'a subject active at an hour it never is, from an address it never used: credentials used by someone else while the owner sleeps',
  respond: 'ask the subject whether it was them; if not, revoke the session and reset the password',
  defaults: {
    enabled: true,
    severity: 'medium',
    suppressMs: 6 * 3_600_000,
    maxKeys: 1_000_000,
    learningMs: 24 * 3_600_000,
    marginHours: 1,
    memoryMs: 30 * 86_400_000,
  },
  key: (e) => (e.actor.sub && isVerified(e) && clientIp(e) && e.kind !== 'token.refreshed' ? e.actor.sub : null),
  ttlMs: (c) => c.memoryMs,
  step(entry, e, c) {
    const hour = Math.floor((e.occurredAt % 86_400_000) / 3_600_000);
    const st: Entry = entry ?? [e.occurredAt, new Array<number>(24).fill(0), []];
    const quiet = [...Array(2 * c.marginHours + 1).keys()].every((k) => st[1][(hour - c.marginHours + k + 24) % 24] === 0);
    const device = deviceOf(e);
    const asn = asnOf(e);
    const newDevice = device !== null && remember(st[2], `d:${device}`);
    const newNetwork = asn !== null && remember(st[2], `n:${asn}`);
    const learning = !entry || e.occurredAt < st[0] + c.learningMs;
    st[1][hour] = Math.min(1_000, st[1][hour]! + 1);
    if (learning || !quiet || !newDevice) return { entry: st };
    return {
      entry: st,
      findings: [
        {
          evidence: [e.id],
          count: 1,
          windowMs: 0,
          firstSeen: e.occurredAt,
          description: `subject ${e.actor.sub} active at ${String(hour).padStart(2, '0')}:00 UTC, an hour it has not been active at (±${c.marginHours} h), from a new ${[newDevice ? `device ${device}` : null, newNetwork ? `network AS${asn}` : null].filter(Boolean).join(' and ')} (${clientIp(e)})`,
          attributes: { hourUtc: String(hour), newDevice: String(newDevice), newNetwork: String(newNetwork) },
        },
      ],
    };
  },
};
