import { describeDifference, summarise, type ReplayRow } from '@jwt-audit/cli';
import { html, withMasks, type Html } from './html.js';
import { page, type PageContext } from './layout.js';
import { MAX_TOKEN, type ReplayRun } from './replay.js';

/** The Replay panel of a session's timeline, and the dry run / match-and-difference table of a replay. */

export interface ReplayScope {
  key: 'summary' | 'session';
  value: string;
}

const time = (ms: number) => (ms > 0 ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '-');

function hidden(scope: ReplayScope, csrf: string): Html {
  return html`<input type="hidden" name="${scope.key}" value="${scope.value}"><input type="hidden" name="csrf" value="${csrf}">`;
}

/** On the timeline: a dry run first (what would be sent, nothing sent); the result page then offers the replay. */
export function replayPanel(scope: ReplayScope, csrf: string, target: URL): Html {
  return html`<form method="post" action="/replay" class="card" id="replay-form">${hidden(scope, csrf)}<input type="hidden" name="mode" value="dry-run">
<strong>Replay</strong> this session's recorded requests against the test instance <code id="replay-target">${target.href}</code>, as <code>audit replay</code> does: first a dry run (nothing is sent) showing each request.
<button type="submit" id="replay-dry-run">Dry run</button></form>`;
}

function resultCell(r: ReplayRow): Html {
  switch (r.result) {
    case 'match':
      return html`<span class="ok">match${r.flags.length ? ' (flagged)' : ''}</span>`;
    case 'differs':
      return html`<strong class="failure">DIFFERS: ${r.comparison!.differences.map((d) => d.kind).join(', ')}</strong>`;
    case 'skipped':
      return html`skipped: not faithful`;
    case 'error':
      return html`<strong class="failure">ERROR: ${r.error ?? ''}</strong>`;
    default:
      return html`would send${r.flags.length ? ' (flagged)' : ''}`;
  }
}

export function replayPage(ctx: PageContext, scope: ReplayScope, run: ReplayRun, csrf: string): string {
  const s = summarise(run.rows);
  const dry = run.context.dryRun;
  const back = `/timeline?${scope.key}=${encodeURIComponent(scope.value)}`;
  return page(
    ctx,
    dry ? 'Replay (dry run)' : 'Replay',
    '/sessions',
    html`<h1>${dry ? 'Replay: dry run' : 'Replay'}</h1>
<p>${dry ? 'Would replay' : 'Replayed'} ${run.rows.length} recorded request(s) of ${run.context.selection} to <code>${run.context.target}</code>${dry ? '' : ` (at most ${run.context.rate}/s)`} · <a href="${back}">back to the timeline</a></p>
<p id="replay-summary">${dry ? `${s.requests - s.skipped} would be sent, ${s.skipped} skipped, ${s.flagged} flagged; nothing was sent` : `${s.requests} requests: ${s.matched} match, ${s.differed} differ, ${s.errors} failed, ${s.skipped} skipped; ${s.flagged} flagged`}</p>
<table class="results" id="replay-rows"><thead><tr><th>#</th><th>recorded at</th><th>request</th><th>recorded</th><th>replayed</th><th>result</th><th>details</th></tr></thead><tbody>
${run.rows.map(
  (
    r,
  ) => html`<tr class="${r.result === 'differs' || r.result === 'error' ? 'failure' : ''}" data-result="${r.result}"><td>${r.n}</td><td><a href="/event/${encodeURIComponent(r.request.eventId)}">${time(r.request.at)}</a></td><td><code>${r.request.method} ${r.request.target}</code></td>
<td>${r.request.recorded ? `${r.request.recorded.status}${r.request.recorded.size !== null ? ` ${r.request.recorded.size} B` : ''}` : '-'}</td><td>${r.replayed ? `${r.replayed.status} ${r.replayed.size} B` : '-'}</td><td>${resultCell(r)}</td>
<td>${
    dry && r.result !== 'skipped'
      ? html`<details><summary>what would be sent</summary><pre>${r.request.method} ${r.url}\n${Object.entries(run.headersOf(r))
          .map(([k, v]) => `${k}: ${v}\n`)
          .join(
            '',
          )}${r.request.body ? html`\n${withMasks(r.request.body.length > 2000 ? `${r.request.body.slice(0, 2000)}…` : r.request.body)}` : ''}</pre></details>`
      : ''
  }
${(r.comparison?.differences ?? []).map((d) => (d.json ? d.json.map((j) => html`<div>${describeDifference(j)}</div>`) : html`<div>${d.message}</div>`))}
${r.flags.map((f) => html`<div class="flag"><code>${f.code}</code>: ${f.message}</div>`)}
${r.comparison && (r.comparison.notes.length || r.comparison.masked.length) ? html`<div class="note">${[...r.comparison.notes, ...(r.comparison.masked.length ? [`masked in the record, not compared: ${r.comparison.masked.map((p) => (p === '' ? '(body)' : p)).join(', ')}`] : [])].join('; ')}</div>` : ''}</td></tr>`,
)}
</tbody></table>
${
  dry && s.requests - s.skipped > 0
    ? html`<form method="post" action="/replay" class="card" id="replay-run-form">${hidden(scope, csrf)}<input type="hidden" name="mode" value="run">
<label>Your access token for the test instance (sent as <code>Authorization: Bearer</code> on the requests that carried a credential; used for this replay only, never stored or logged: recorded tokens are never replayed)<textarea name="token" id="replay-token" rows="3" maxlength="${MAX_TOKEN}" required autocomplete="off" spellcheck="false"></textarea></label>
<button type="submit" id="replay-run">Replay ${s.requests - s.skipped} request(s) to ${run.context.target}</button></form>`
    : ''
}`,
  );
}
