import { formatDuration } from '@jwt-audit/cli';
import { html, type Html } from './html.js';
import { page, type PageContext } from './layout.js';
import { PAGE_SIZES } from './search-query.js';
import { END_REASONS, sessionsHref, STATES, type SessionParams, type SessionView } from './session-query.js';

/** The Sessions page (the sessionizer's summaries) and the summary header of a session's timeline. */

const time = (ms: number | undefined) =>
  ms === undefined
    ? ''
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '');

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const summaryHref = (id: string) => `/timeline?summary=${encodeURIComponent(id)}`;

const more = (n: number) => (n > 0 ? ` +${n}` : '');
const ended = (v: SessionView) =>
  v.open ? html`<span class="open">open</span>` : html`${v.endReason ?? '?'}${v.endDetail ? html` <small>(${v.endDetail})</small>` : ''}`;

function select(name: string, values: readonly string[], current: string | undefined, any: string): Html {
  return html`<select name="${name}" id="s-${name}"><option value="">${any}</option>${values.map((v) => html`<option value="${v}" ${v === current ? html`selected` : ''}>${v}</option>`)}</select>`;
}

export function sessionsPage(ctx: PageContext, s: SessionParams, r: { total: number; sessions: SessionView[] }): string {
  const pages = Math.max(1, Math.ceil(Math.min(r.total, 10_000) / s.size));
  return page(
    ctx,
    'Sessions',
    '/sessions',
    html`<h1>Sessions</h1>
<p>The sessionizer's session summaries: from the <code>sid</code> claim, else the refresh-token family, else subject and client with an idle gap; each row opens the session's timeline. Or look up <a href="/timeline" id="timeline-lookup">a subject, session id or family</a>.</p>
<form method="get" action="/sessions" class="search" id="sessions-form"><div class="filters">
<input name="subject" id="s-subject" placeholder="subject (user.id)" value="${s.subject ?? ''}" maxlength="256">
${select('state', STATES, s.state, 'open or ended')} ${select('reason', END_REASONS, s.reason, 'any end reason')}
<input name="since" id="s-since" placeholder="active since: 30m, 24h, 7d or a time" value="${s.sinceRaw ?? ''}" maxlength="40">
${select('size', PAGE_SIZES.map(String), String(s.size), 'rows')}
<button type="submit" id="sessions-button">Filter</button></div></form>
<p><strong id="sessions-total">${r.total}</strong> matching</p>
<table class="results" id="sessions"><thead><tr><th>start</th><th>end</th><th>duration</th><th>subject</th><th>client</th><th>IPs / geos</th><th>requests</th><th>routes</th><th>bytes in / out</th><th>rejections</th><th>alerts</th><th>approvals</th><th>end reason</th></tr></thead><tbody>
${r.sessions.map(
  (
    v,
  ) => html`<tr class="${[v.open ? 'open' : '', v.alerts ? 'alert' : '', v.afterEnd ? 'failure' : ''].join(' ')}" data-session="${v.id}"><td><a href="${summaryHref(v.id)}" class="session-link">${time(v.startedAt)}</a></td><td>${v.open ? 'open' : time(v.endedAt)}</td><td>${formatDuration(v.durationMs)}</td>
<td>${v.subject}</td><td>${v.clientId ?? '-'}</td><td>${v.ips.join(', ')}${more(v.ipsDropped)}${v.countries.length ? html` <small>${v.countries.join(', ')}${v.cities.length ? ` (${v.cities.join(', ')})` : ''}</small>` : ''}</td>
<td>${v.requests}</td><td title="${v.routes.join('\n')}">${v.routes.length}${more(v.routesDropped)}</td><td>${formatBytes(v.bytesIn)} / ${formatBytes(v.bytesOut)}</td><td>${v.rejections}</td><td>${v.alerts}${v.alertRules.length ? html` <small>${v.alertRules.join(', ')}</small>` : ''}</td><td>${v.approvals}</td><td>${ended(v)}${v.afterEnd ? html` <strong class="reuse-mark">+${v.afterEnd} after end</strong>` : ''}</td></tr>`,
)}
</tbody></table>
${r.sessions.length === 0 ? html`<p class="empty" id="no-sessions">No session matches${r.total === 0 && !s.subject && !s.state && !s.reason && !s.since ? ' (none recorded yet: the sessionizer and indexer write them)' : ''}.</p>` : ''}
<p class="pager">${s.page > 1 ? html`<a href="${sessionsHref(s, { page: s.page - 1 })}">previous</a>` : ''} page ${s.page} of ${pages} ${s.page < pages ? html`<a href="${sessionsHref(s, { page: s.page + 1 })}" id="sessions-next-page">next</a>` : ''}</p>`,
  );
}

/** The header of a session's timeline: what the summary says about the session. */
export function sessionHeader(v: SessionView): Html {
  const key =
    v.basis === 'sid'
      ? html`sid <code>${v.sid ?? ''}</code>`
      : v.basis === 'family'
        ? html`refresh family <a href="/timeline?family=${encodeURIComponent(v.familyId ?? '')}"><code>${v.familyId ?? ''}</code></a>`
        : html`subject and client, idle gap`;
  const row = (k: string, val: Html | string | number) => html`<tr><th>${k}</th><td>${val}</td></tr>`;
  return html`<table class="fields session-summary" id="session-summary"><tbody>
${row('session', html`<code id="summary-id">${v.id}</code> (${key})`)}
${row('subject', html`<a href="/timeline?subject=${encodeURIComponent(v.subject)}">${v.subject}</a>${v.clientId ? ` via ${v.clientId}` : ''}`)}
${row('start', time(v.startedAt))}
${row('end', v.open ? html`<span class="open">open</span> (last seen ${time(v.lastSeenAt)})` : html`${time(v.endedAt)}: <strong id="summary-end-reason">${v.endReason ?? '?'}</strong>${v.endDetail ? ` (${v.endDetail})` : ''}`)}
${row('duration', formatDuration(v.durationMs))}
${row('IPs / geos', html`${v.ips.join(', ')}${more(v.ipsDropped)}${v.countries.length ? ` · ${v.countries.join(', ')}` : ''}${v.cities.length ? ` (${v.cities.join(', ')})` : ''}`)}
${row('requests', html`<span id="summary-requests">${v.requests}</span> over ${v.routes.length}${more(v.routesDropped)} distinct routes${v.routes.length ? html`: ${v.routes.map((r) => html`<code>${r}</code> `)}` : ''}`)}
${row('bytes in / out', `${formatBytes(v.bytesIn)} / ${formatBytes(v.bytesOut)}`)}
${row('rejections', v.rejections)}
${row('alerts', html`${v.alerts}${v.alertRules.length ? html`: ${v.alertRules.map((r) => html`<code>${r}</code> `)}` : ''}`)}
${row('approvals', v.approvals)}
${v.afterEnd ? row('after its end', html`<strong class="reuse-mark" id="summary-after-end">${v.afterEnd} event(s) after the session ended</strong>`) : ''}
</tbody></table>`;
}
