import type { SessionSummary } from '@jwt-audit/events';
import { compact, ECS_VERSION, isIndexableIp, MODULE, SESSIONS_DATASET } from './ecs.js';

const iso = (ms: number | null) => (ms === null || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString());
const nonEmpty = <T>(xs: T[]) => (xs.length > 0 ? xs : undefined);

function describe(s: SessionSummary): string {
  const min = Math.round(s.durationMs / 60_000);
  const state = s.endedAt === null ? 'open' : `ended: ${s.endReason}`;
  return `session of ${s.subject}${s.clientId ? ` via ${s.clientId}` : ''} (${s.basis}), ${min} min, ${s.requests} requests from ${s.ips.length + (s.ipsDropped > 0 ? '+' : '')} IPs, ${state}`;
}

/**
 * A session summary as the document of the sessions index (`audit-sessions-<namespace>`, one
 * document per session, `_id` = the session id, replaced by each newer revision). ECS has no session
 * object outside process: the summary lives under `jwt_audit.session.*`; `user.id` and the `event.*`
 * times are the ECS ones, so the usual searches (`user.id:alice`) work.
 */
export function sessionToEcsDocument(s: SessionSummary): Record<string, unknown> {
  return compact({
    '@timestamp': iso(s.startedAt),
    message: describe(s),
    ecs: { version: ECS_VERSION },
    event: {
      id: s.id,
      kind: 'state',
      category: ['session'],
      type: s.endedAt === null ? ['start'] : ['end'],
      start: iso(s.startedAt),
      end: iso(s.endedAt),
      // ECS event.duration is in nanoseconds
      duration: s.durationMs * 1_000_000,
      reason: s.endReason ?? undefined,
      dataset: SESSIONS_DATASET,
      module: MODULE,
    },
    user: { id: s.subject },
    organization: s.tenant ? { id: s.tenant } : undefined,
    related: { user: [s.subject], ip: nonEmpty(s.ips.filter(isIndexableIp)) },
    jwt_audit: {
      schema_version: s.schemaVersion,
      session: {
        id: s.id,
        revision: s.revision,
        basis: s.basis,
        sid: s.sid,
        family_id: s.familyId,
        client_id: s.clientId,
        // started_at, ended_at, duration_ms and end_reason are ECS event.start, event.end,
        // event.duration (ns) and event.reason; the tenant is organization.id
        explicit_start: s.explicitStart,
        open: s.endedAt === null,
        last_seen_at: iso(s.lastSeenAt),
        end_detail: s.endDetail,
        token_expires_at: iso(s.tokenExpiresAt),
        ips: nonEmpty(s.ips),
        ips_dropped: s.ipsDropped,
        countries: nonEmpty(s.countries),
        cities: nonEmpty(s.cities),
        requests: s.requests,
        routes: nonEmpty(s.routes),
        routes_dropped: s.routesDropped,
        bytes_in: s.bytesIn,
        bytes_out: s.bytesOut,
        rejections: s.rejections,
        alerts: s.alerts,
        alert_rules: nonEmpty(s.alertRules),
        approvals: s.approvals,
        after_end: s.afterEnd,
        events: s.events,
        updated_at: iso(s.updatedAt),
      },
    },
  }) as Record<string, unknown>;
}
