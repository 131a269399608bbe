import type { VerifyReport } from '@jwt-audit/archive';
import { html, withMasks, type Html } from './html.js';
import { page, type PageContext } from './layout.js';
import type { Doc, Hit, SearchResult, TimelineKey } from './reader.js';
import { ACTIONS, OUTCOMES, PAGE_SIZES, RANGE_PRESETS, searchHref, type ParamError, type SearchParams } from './search-query.js';
import { steps, str, type ChainLink, type Entry } from './timeline.js';
import type { SessionView } from './session-query.js';
import { sessionHeader } from './sessions-page.js';

const time = (iso: string | undefined) => (iso ?? '').replace('T', ' ').replace('Z', '');

export function loginPage(ctx: PageContext, opts: { jwt: boolean; error?: string; next: string }): string {
  return page(
    ctx,
    'Sign in',
    '',
    html`<h1>Sign in</h1>
${opts.error ? html`<p class="error" id="login-error">${opts.error}</p>` : ''}
${
  opts.jwt
    ? html`<form method="post" action="/login" class="card"><input type="hidden" name="next" value="${opts.next}">
<label>Access token (a JWT from your identity provider granting <code>audit:read</code>)<textarea name="token" rows="4" required autocomplete="off"></textarea></label>
<button type="submit">Sign in with token</button></form>`
    : ''
}
${
  ctx.demo
    ? html`<form method="post" action="/login" class="card" id="demo-login"><input type="hidden" name="next" value="${opts.next}">
<label>Name (demo login: no password, no identity provider)<input name="name" value="auditor" pattern="[A-Za-z0-9._@\-]{1,64}" required></label>
<button type="submit" id="demo-sign-in">Sign in (demo)</button></form>`
    : ''
}`,
  );
}

export function errorPage(ctx: PageContext, status: number, title: string, detail: string, errors: ParamError[] = []): string {
  return page(
    ctx,
    title,
    '',
    html`<h1>${title}</h1><p class="error">${detail}</p>${errors.length ? html`<ul class="error">${errors.map((e) => html`<li><code>${e.param}</code>: ${e.message}</li>`)}</ul>` : ''}<p><a href="/search">Back to search</a> · status ${status}</p>`,
  );
}

function select(name: string, values: readonly string[], current: string | undefined, any: string): Html {
  return html`<select name="${name}" id="f-${name}"><option value="">${any}</option>${values.map((v) => html`<option value="${v}" ${v === current ? html`selected` : ''}>${v}</option>`)}</select>`;
}

export function searchPage(ctx: PageContext, s: SearchParams, r: SearchResult): string {
  const presets = [...Object.keys(RANGE_PRESETS), 'all'];
  const pages = Math.max(1, Math.ceil(Math.min(r.total, 10_000) / s.size));
  const chart = { buckets: r.histogram.buckets, intervalMs: r.histogram.intervalMs, href: searchHref(s, { range: 'custom', from: 0, to: 0, page: 1 }) };
  return page(
    ctx,
    'Search',
    '/search',
    html`<form method="get" action="/search" class="search" id="search-form">
<input type="search" name="q" id="q" value="${s.q}" placeholder="query string, as audit search: user.id:alice AND event.action:token-rejected" maxlength="2000">
<span class="presets">${presets.map((p) => html`<a href="${searchHref(s, { range: p as SearchParams['range'], from: undefined, to: undefined, page: 1 })}" class="${s.range === p ? 'active' : ''}" data-range="${p}">${p}</a>`)}</span>
${s.range === 'custom' ? html`<input type="hidden" name="from" value="${s.from !== undefined ? new Date(s.from).toISOString() : ''}"><input type="hidden" name="to" value="${s.to !== undefined ? new Date(s.to).toISOString() : ''}">` : html`<input type="hidden" name="range" value="${s.range}">`}
<div class="filters">${select('outcome', OUTCOMES, s.outcome, 'any outcome')} ${select('kind', ACTIONS, s.action, 'any kind')}
<input name="route" placeholder="route" value="${s.route ?? ''}" maxlength="256"> <input name="subject" id="f-subject" placeholder="subject (user.id)" value="${s.subject ?? ''}" maxlength="256"> <input name="client" placeholder="client id" value="${s.client ?? ''}" maxlength="256">
${select('size', PAGE_SIZES.map(String), String(s.size), 'rows')}
<button type="submit" id="search-button">Search</button> <a href="${searchHref(s).replace('/search?', '/export?')}" id="export-link">Export NDJSON</a></div>
</form>
<p class="range" id="range-label">${s.range === 'custom' ? html`from ${s.from !== undefined ? new Date(s.from).toISOString() : 'the beginning'} to ${s.to !== undefined ? new Date(s.to).toISOString() : 'now'}` : s.range === 'all' ? 'all time' : html`last ${s.range}`} · <strong id="total">${r.total}</strong> matching</p>
<div id="histogram" class="chart" data-chart="${JSON.stringify(chart)}"></div>
<p class="hint">Drag across the histogram to narrow the time range.</p>
<table class="results" id="results"><thead><tr><th>time</th><th>action</th><th>outcome</th><th>user</th><th>client</th><th>source ip</th><th>request</th><th>reason</th></tr></thead><tbody>
${r.hits.map((h) => resultRow(h))}
</tbody></table>
${r.hits.length === 0 ? html`<p class="empty" id="no-results">No event matches.</p>` : ''}
<p class="pager">${s.page > 1 ? html`<a href="${searchHref(s, { page: s.page - 1 })}">previous</a>` : ''} page ${s.page} of ${pages} ${s.page < pages ? html`<a href="${searchHref(s, { page: s.page + 1 })}" id="next-page">next</a>` : ''}</p>`,
    { scripts: ['/static/uPlot.iife.min.js', '/static/console.js'] },
  );
}

/** An audit.access row says what was read: `audit-access (timeline)`, its target in the reason column. */
const accessAttr = (d: Doc, k: string): string | undefined =>
  ((d.jwt_audit as { attributes?: Record<string, string> } | undefined)?.attributes ?? {})[`access.${k}`];

function resultRow(h: Hit): Html {
  const d = h.doc;
  const access = str(d, 'event.action') === 'audit-access';
  const req = str(d, 'http.request.method') ? `${str(d, 'http.request.method')} ${str(d, 'url.path') ?? ''} ${str(d, 'http.response.status_code') ?? ''}` : '';
  return html`<tr class="${str(d, 'event.outcome') === 'failure' ? 'failure' : ''}"><td><a href="/event/${encodeURIComponent(h.id)}" class="event-link">${time(d['@timestamp'])}</a></td><td>${str(d, 'event.action')}${str(d, 'jwt_audit.token.typ') && str(d, 'event.action')?.startsWith('token-') ? ` (${str(d, 'jwt_audit.token.typ')})` : ''}${access && accessAttr(d, 'action') ? ` (${accessAttr(d, 'action')})` : ''}</td><td>${str(d, 'event.outcome')}</td>
<td>${str(d, 'user.id') ? html`<a href="/timeline?subject=${encodeURIComponent(str(d, 'user.id')!)}">${str(d, 'user.id')}</a>` : '-'}</td><td>${str(d, 'jwt_audit.token.client_id') ?? ''}</td><td>${str(d, 'source.ip') ?? ''}</td><td>${req}</td><td>${str(d, 'event.reason') ?? (access ? withMasks(accessAttr(d, 'target') ?? accessAttr(d, 'query') ?? '') : '')}</td></tr>`;
}

/** Every leaf of a document as dotted path -> value, in document order. */
export function flatten(v: unknown, prefix = '', out: [string, string][] = []): [string, string][] {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) v.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  else out.push([prefix, Array.isArray(v) ? v.join(', ') : String(v)]);
  return out;
}

export function eventPage(ctx: PageContext, h: Hit, archived: boolean): string {
  const d = h.doc;
  const rules = ((d.jwt_audit as { masking?: { rules?: unknown } } | undefined)?.masking?.rules ?? []) as string[];
  const isAlert = h.index.includes('alerts');
  const links: Html[] = [];
  const sub = str(d, 'user.id');
  const sid = str(d, 'jwt_audit.session_id') ?? str(d, 'jwt_audit.alert.session_id');
  const fam = str(d, 'jwt_audit.token.family_id');
  if (sub) links.push(html`<a href="/timeline?subject=${encodeURIComponent(sub)}" id="timeline-subject">subject ${sub}</a>`);
  if (sid) links.push(html`<a href="/timeline?session=${encodeURIComponent(sid)}" id="timeline-session">session ${sid}</a>`);
  if (fam) links.push(html`<a href="/timeline?family=${encodeURIComponent(fam)}" id="timeline-family">refresh family ${fam}</a>`);
  const evidence = isAlert ? (((d.jwt_audit as { alert?: { evidence?: unknown } } | undefined)?.alert?.evidence ?? []) as string[]) : [];
  return page(
    ctx,
    `Event ${h.id}`,
    '/search',
    html`<h1>${isAlert ? 'Alert' : 'Event'} <code id="event-id">${h.id}</code></h1>
<p class="message">${withMasks(str(d, 'message') ?? '')}</p>
<p>Timelines: ${links.length ? links.map((l, i) => html`${i ? ' · ' : ''}${l}`) : 'none (no subject, session or family)'}</p>
${isAlert ? html`<p>Evidence: ${evidence.map((id) => html`<a href="/event/${encodeURIComponent(id)}" class="evidence">${id}</a> `)}</p>` : html`<p>Inclusion proof: ${archived ? html`<a href="/event/${encodeURIComponent(h.id)}/proof" id="proof-link" download>download (check offline: <code>audit archive check-proof &lt;file&gt;</code>)</a>` : 'no archive configured on this console'}</p>`}
<h2>Masking</h2><p id="masking-rules">${rules.length ? html`rules that fired: ${rules.map((r) => html`<code class="rule">${r}</code> `)}` : 'no masking rule fired on this event'}${str(d, 'jwt_audit.masking.policy_version') ? html` · policy ${str(d, 'jwt_audit.masking.policy_version')}` : ''}</p>
<h2>Every field</h2><table class="fields" id="fields"><tbody>${flatten(d).map(([k, v]) => html`<tr><th>${k}</th><td>${withMasks(v)}</td></tr>`)}</tbody></table>`,
  );
}

export function timelineForm(ctx: PageContext, error?: string): string {
  return page(
    ctx,
    'Sessions',
    '/timeline',
    html`<h1>Sessions and subjects</h1>${error ? html`<p class="error">${error}</p>` : ''}
<form method="get" action="/timeline" class="card"><label>Subject (user.id)<input name="subject" id="t-subject" maxlength="256"></label><button>Show timeline</button></form>
<form method="get" action="/timeline" class="card"><label>Session id<input name="session" maxlength="256"></label><button>Show timeline</button></form>
<form method="get" action="/timeline" class="card"><label>Refresh-token family id<input name="family" maxlength="256"></label><button>Show timeline</button></form>`,
  );
}

const KEY_LABEL: Record<TimelineKey | 'summary', string> = { subject: 'Subject', session: 'Session', family: 'Refresh-token family', summary: 'Session of' };

/** `summary`: the timeline of one of the sessionizer's sessions, its summary as the header. */
export function timelinePage(
  ctx: PageContext,
  key: TimelineKey | 'summary',
  value: string,
  entries: Entry[],
  chain: ChainLink[],
  at: number,
  truncated: boolean,
  summary?: SessionView,
  panel?: Html,
): string {
  const base = `/timeline?${key}=${encodeURIComponent(value)}`;
  const s = steps(entries, at);
  const cur = entries[at];
  const go = (i: number, label: string, id: string) =>
    i >= 0 ? html`<a href="${base}&at=${i}#step" id="${id}" class="step">${label}</a>` : html`<span class="step disabled" id="${id}">${label}</span>`;
  const families = [...new Set(entries.map((e) => str(e.doc, 'jwt_audit.token.family_id')).filter((x): x is string => !!x))];
  const sessions = [...new Set(entries.map((e) => str(e.doc, 'jwt_audit.session_id')).filter((x): x is string => !!x))];
  const points = entries.map((e) => [Date.parse(e.at), e.alert ? 3 : e.rejection || e.reuse ? 2 : 1]);
  const shown = summary ? summary.subject : value;
  return page(
    ctx,
    `${KEY_LABEL[key]} ${shown}`,
    summary ? '/sessions' : '/timeline',
    html`<h1>${KEY_LABEL[key]} <code id="timeline-value">${shown}</code></h1>
${summary ? sessionHeader(summary) : ''}
${panel ?? ''}
<p>${entries.length} entries${truncated ? ' (the first ones only: narrow by session or family)' : ''} · ${entries.filter((e) => e.rejection).length} rejections · ${entries.filter((e) => e.alert).length} alerts
${families.length && key !== 'family' ? html` · families: ${families.map((f) => html`<a href="/timeline?family=${encodeURIComponent(f)}" class="family-link">${f}</a> `)}` : ''}
${sessions.length && key !== 'session' && key !== 'summary' ? html` · sessions: ${sessions.slice(0, 20).map((f) => html`<a href="/timeline?session=${encodeURIComponent(f)}">${f}</a> `)}` : ''}</p>
<div id="timeline-chart" class="chart" data-points="${JSON.stringify(points)}"></div>
${chain.length ? html`<h2>Refresh-token chain</h2><ol class="chain" id="chain">${chain.map((c) => html`<li class="${c.reuse ? 'reuse' : ''}"><a href="${base}&at=${c.entry}#step">${time(c.at)}</a> ${c.previous ? html`<code>${c.previous.slice(0, 12)}</code> → ` : 'issued '}<code>${c.fingerprint.slice(0, 12)}</code> ${c.outcome} ${c.sourceIp ? `from ${c.sourceIp}` : ''} ${c.reuse ? html`<strong class="reuse-mark">REUSE: this refresh token was already exchanged</strong>` : ''}</li>`)}</ol>` : ''}
<div class="player" id="step"><div class="controls">${go(s.prev, '◀ previous', 'step-prev')} ${go(s.next, 'next ▶', 'step-next')} ${go(s.prevRejection, '⇤ previous rejection', 'step-prev-rejection')} ${go(s.nextRejection, 'next rejection ⇥', 'step-next-rejection')} ${go(s.prevAlert, '⇤ previous alert', 'step-prev-alert')} ${go(s.nextAlert, 'next alert ⇥', 'step-next-alert')} <span id="step-position">${entries.length ? at + 1 : 0} / ${entries.length}</span></div>
${cur ? stepDetail(cur) : html`<p class="empty">Nothing recorded for this ${key}.</p>`}</div>
<table class="timeline" id="timeline"><thead><tr><th>#</th><th>time</th><th>what</th><th>outcome</th><th>details</th></tr></thead><tbody>
${entries.map((e) => html`<tr class="${[e.n === at ? 'current' : '', e.alert ? 'alert' : '', e.rejection ? 'failure' : '', e.reuse ? 'reuse' : ''].join(' ')}"><td><a href="${base}&at=${e.n}#step">${e.n + 1}</a></td><td>${time(e.at)}</td><td>${e.action}${e.reuse ? html` <strong class="reuse-mark">REUSE</strong>` : ''}</td><td>${e.outcome}</td><td>${withMasks(e.summary)}</td></tr>`)}
</tbody></table>`,
    { scripts: ['/static/uPlot.iife.min.js', '/static/console.js'] },
  );
}

function stepDetail(e: Entry): Html {
  const d = e.doc;
  const bodies = (['request', 'response'] as const).map((w) => [w, str(d, `http.${w}.body.content`)] as const).filter(([, b]) => b !== undefined);
  return html`<div class="step-detail" id="step-detail" data-kind="${e.kind}" data-action="${e.action}">
<p><strong id="step-action">${e.alert ? `ALERT ${e.action}` : e.action}</strong> at ${time(e.at)} · ${e.outcome} ${e.reuse ? html`<strong class="reuse-mark">REUSE</strong>` : ''}</p>
<p>${withMasks(e.summary)}</p>
${str(d, 'event.reason') ? html`<p>reason: <code>${str(d, 'event.reason')}</code></p>` : ''}
${bodies.map(([w, b]) => html`<p>${w} body (as captured, masked):</p><pre>${withMasks(b!)}</pre>`)}
${e.alert ? html`<p>evidence: ${((d.jwt_audit as { alert?: { evidence?: string[] } }).alert?.evidence ?? []).map((id) => html`<a href="/event/${encodeURIComponent(id)}">${id.slice(0, 13)}…</a> `)}</p>` : ''}
<p><a href="/event/${encodeURIComponent(e.id)}" id="step-event-link">every field of this ${e.kind}</a></p></div>`;
}

export function alertsPage(
  ctx: PageContext,
  filter: { severity?: string; rule?: string },
  r: { total: number; hits: Hit[]; bySeverity: Record<string, number>; byRule: Record<string, number> },
): string {
  const href = (c: { severity?: string | undefined; rule?: string | undefined }) => {
    const p = new URLSearchParams();
    if (c.severity) p.set('severity', c.severity);
    if (c.rule) p.set('rule', c.rule);
    return `/alerts?${p.toString()}`;
  };
  const link = (d: Doc) => {
    const fam = str(d, 'jwt_audit.token.family_id');
    const sid = str(d, 'jwt_audit.alert.session_id');
    const sub = str(d, 'user.id');
    return fam
      ? `/timeline?family=${encodeURIComponent(fam)}`
      : sid
        ? `/timeline?session=${encodeURIComponent(sid)}`
        : sub
          ? `/timeline?subject=${encodeURIComponent(sub)}`
          : undefined;
  };
  return page(
    ctx,
    'Alerts',
    '/alerts',
    html`<h1>Alerts</h1>
<p>By severity: <a href="${href({ rule: filter.rule })}" class="${filter.severity ? '' : 'active'}">all</a> ${['critical', 'high', 'medium', 'low'].map((s) => html`<a href="${href({ ...filter, severity: s })}" class="${filter.severity === s ? 'active' : ''}">${s} (${r.bySeverity[s] ?? 0})</a> `)}</p>
<p>By rule: <a href="${href({ severity: filter.severity })}" class="${filter.rule ? '' : 'active'}">all</a> ${Object.entries(r.byRule).map(([rule, n]) => html`<a href="${href({ ...filter, rule })}" class="${filter.rule === rule ? 'active' : ''}" data-rule="${rule}">${rule} (${n})</a> `)}</p>
<table class="results" id="alerts"><thead><tr><th>raised</th><th>severity</th><th>rule</th><th>subject</th><th>description</th><th>evidence</th><th>timeline</th></tr></thead><tbody>
${r.hits.map((h) => {
  const d = h.doc;
  const ev = (d.jwt_audit as { alert?: { evidence?: string[] } } | undefined)?.alert?.evidence ?? [];
  const t = link(d);
  return html`<tr class="sev-${str(d, 'jwt_audit.alert.severity') ?? ''}"><td><a href="/event/${encodeURIComponent(h.id)}">${time(d['@timestamp'])}</a></td><td>${str(d, 'jwt_audit.alert.severity')}</td><td>${str(d, 'rule.name')}</td><td>${str(d, 'user.id') ?? '-'}</td><td>${str(d, 'message')}</td>
<td>${ev.map((id) => html`<a href="/event/${encodeURIComponent(id)}" class="evidence">${id.slice(0, 8)}</a> `)}</td><td>${t ? html`<a href="${t}" class="alert-timeline">timeline</a>` : ''}</td></tr>`;
})}</tbody></table>${r.total === 0 ? html`<p class="empty">No alert.</p>` : ''}`,
  );
}

export function integrityPage(
  ctx: PageContext,
  archiveDir: string,
  report: VerifyReport | undefined,
  perPartition: { stream: string; segments: number; records: number; lastSegment: string | undefined; keyIds: string[]; findings: string[] }[],
  checkedAt: string | undefined,
): string {
  if (!archiveDir) return page(ctx, 'Integrity', '/integrity', html`<h1>Integrity</h1><p>No archive is configured on this console (AUDIT_ARCHIVE_DIR).</p>`);
  return page(
    ctx,
    'Integrity',
    '/integrity',
    html`<h1>Integrity</h1>
<p>Archive <code>${archiveDir}</code>: ${report ? html`<strong id="verify-state" class="${report.ok ? 'ok' : 'failure'}">${report.ok ? 'OK' : 'TAMPERED'}</strong>, ${report.streams} partition(s), ${report.segments} segments, ${report.records} records, ${report.findings.length} finding(s), ${report.warnings.length} warning(s); verified ${checkedAt}` : 'not verified yet'}
<a href="/integrity?verify=1" id="verify-now">verify now</a></p>
<table class="results" id="partitions"><thead><tr><th>partition</th><th>segments</th><th>records</th><th>last verified segment</th><th>key ids</th><th>findings</th></tr></thead><tbody>
${perPartition.map((p) => html`<tr class="${p.findings.length ? 'failure' : ''}"><td>${p.stream}</td><td>${p.segments}</td><td>${p.records}</td><td><code>${p.lastSegment ?? '-'}</code></td><td>${p.keyIds.join(', ')}</td><td>${p.findings.length ? p.findings.map((f) => html`<div>${f}</div>`) : 'none'}</td></tr>`)}
</tbody></table>
${report && report.warnings.length ? html`<h2>Warnings</h2><ul>${report.warnings.map((w) => html`<li>${w.kind}: ${w.stream}${w.file} ${w.message}</li>`)}</ul>` : ''}
<p>For any event, its page offers the download of its inclusion proof; <code>audit archive check-proof &lt;file&gt; --jwks &lt;archive-public.jwks.json&gt;</code> checks it offline.</p>`,
  );
}
