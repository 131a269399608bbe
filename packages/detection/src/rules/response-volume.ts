import type { AuditEvent } from '@jwt-audit/events';
import { clientIp, isVerified } from '../event-facts.js';
import type { CommonRuleConfig, RuleDefinition } from '../types.js';

/**
 * response-volume: one subject downloads far more in an hour than it ever did before, and more
 * than `minBytes`.
 *
 * Catches: data exfiltration through the API by an insider or with a stolen session: export
 * endpoints, large list pages or reports pulled in a loop (hundreds of MB where a user usually
 * reads a few). Volume is what the response declared (content-length, else the captured body's
 * size), so it needs only the headers the edge captures by default.
 *
 * Baseline: per subject, the largest hourly volume seen before (decayed by half every
 * `decayDays`); an hour alerts when it exceeds both `minBytes` and `factor` times that.
 * A route's own baseline is not kept (known limit): an export endpoint that serves large files
 * to everyone needs its own `minBytes` for now.
 *
 * State: per subject, the current hour's start, bytes and responses, the baseline, fired flag.
 */
export interface ResponseVolumeConfig extends CommonRuleConfig {
  minBytes: number;
  factor: number;
  decayDays: number;
}

type Entry = [hourStart: number, bytes: number, responses: number, peak: number, fired: 0 | 1, firstEventId: string, peakAt: number];

const HOUR = 3_600_000;

export function responseBytes(e: AuditEvent): number | null {
  const r = e.http?.response;
  if (!r) return null;
  const declared = Number(r.headers['content-length']);
  if (Number.isFinite(declared) && declared >= 0) return declared;
  return r.body?.size ?? null;
}

export const responseVolume: RuleDefinition<ResponseVolumeConfig, Entry> = {
  id: 'response-volume',
  name: 'response-volume',
  partitioning: 'subject',
  catches: 'one subject downloading far more per hour than ever before: data exfiltration through the API',
  respond:
    "check with the subject's manager whether the download was expected; if not, suspend the session (revoke its family) and list what the routes in the evidence returned",
  defaults: { enabled: true, severity: 'high', suppressMs: 6 * HOUR, maxKeys: 1_000_000, minBytes: 100_000_000, factor: 10, decayDays: 7 },
  key: (e) => (e.actor.sub && isVerified(e) && (e.http?.response?.status ?? 0) < 400 && responseBytes(e) !== null ? e.actor.sub : null),
  ttlMs: (c) => c.decayDays * 4 * 86_400_000,
  step(entry, e, c) {
    const hour = Math.floor(e.occurredAt / HOUR) * HOUR;
    let st: Entry = entry ?? [hour, 0, 0, 0, 0, e.id, hour];
    if (hour > st[0]) {
      const decay = 0.5 ** ((hour - st[6]) / (c.decayDays * 86_400_000));
      const peak = Math.max(st[3] * decay, st[1]);
      st = [hour, 0, 0, peak, 0, e.id, st[1] >= st[3] * decay ? st[0] : st[6]];
    } else if (hour < st[0]) {
      return { entry: st }; // late event for a closed hour: not counted
    }
    st[1] += responseBytes(e)!;
    st[2]++;
    if (st[4] === 1 || st[1] <= c.minBytes || st[1] <= c.factor * st[3]) return { entry: st };
    st[4] = 1;
    return {
      entry: st,
      findings: [
        {
          evidence: [st[5], e.id],
          count: st[2],
          windowMs: HOUR,
          firstSeen: st[0],
          keys: { jti: null },
          description: `subject ${e.actor.sub} downloaded ${(st[1] / 1e6).toFixed(0)} MB in ${st[2]} responses this hour (its largest hour before: ${(st[3] / 1e6).toFixed(1)} MB), last ${e.http?.request.route ?? e.http?.request.path ?? '?'} from ${clientIp(e) ?? '?'}`,
          attributes: {
            bytes: String(st[1]),
            responses: String(st[2]),
            baselineBytes: String(Math.round(st[3])),
            route: e.http?.request.route ?? e.http?.request.path ?? '',
          },
        },
      ],
    };
  },
};
