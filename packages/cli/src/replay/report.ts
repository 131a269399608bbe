/**
 * What `audit replay` prints: a table of the requests in recorded order and what became of each,
 * then each difference spelled out, then what could not be replayed faithfully and why; or, with
 * --json, one report object (shape in packages/cli/README.md). The operator's token is never
 * printed: an authenticated request shows `authorization: Bearer <operator token>`.
 */
import { describeDifference } from './json-diff.js';
import type { ReplayRow } from './replay.js';

export interface ReportContext {
  target: string;
  selection: string;
  dryRun: boolean;
  rate: number;
  pace: 'recorded' | 'none';
}

export interface Summary {
  requests: number;
  matched: number;
  differed: number;
  skipped: number;
  errors: number;
  /** Requests sent with a flag (masked values replayed as their masks, headers not sent ...). */
  flagged: number;
}

export function summarise(rows: ReplayRow[]): Summary {
  const count = (r: ReplayRow['result']) => rows.filter((x) => x.result === r).length;
  return {
    requests: rows.length,
    matched: count('match'),
    differed: count('differs'),
    skipped: count('skipped'),
    errors: count('error'),
    flagged: rows.filter((r) => r.flags.length > 0).length,
  };
}

const shortTime = (ms: number) => (ms > 0 ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '-');
const recordedCell = (r: ReplayRow) =>
  r.request.recorded ? `${r.request.recorded.status}${r.request.recorded.size !== null ? ` ${r.request.recorded.size}B` : ''}` : '-';
const replayedCell = (r: ReplayRow) => (r.replayed ? `${r.replayed.status} ${r.replayed.size}B` : r.result === 'error' ? 'error' : '-');
const requestCell = (r: ReplayRow) => {
  const s = `${r.request.method} ${r.request.target}`;
  return s.length > 44 ? `${s.slice(0, 43)}…` : s;
};

function resultCell(r: ReplayRow): string {
  switch (r.result) {
    case 'match':
      return r.flags.length > 0 ? 'match (flagged)' : 'match';
    case 'differs':
      return `DIFFERS: ${r.comparison!.differences.map((d) => d.kind).join(', ')}`;
    case 'skipped':
      return 'skipped: not faithful';
    case 'error':
      return `ERROR: ${r.error}`;
    default:
      return r.flags.length > 0 ? 'would send (flagged)' : 'would send';
  }
}

export function formatTable(rows: ReplayRow[], ctx: ReportContext): string {
  const lines: string[] = [];
  const s = summarise(rows);
  lines.push(
    `${ctx.dryRun ? 'dry run: would replay' : 'replayed'} ${rows.length} recorded request${rows.length === 1 ? '' : 's'} of ${ctx.selection} to ${ctx.target}${ctx.dryRun ? '' : ` (at most ${ctx.rate}/s${ctx.pace === 'recorded' ? ', recorded pacing' : ''})`}`,
  );
  lines.push('');
  lines.push(`${'#'.padStart(3)}  ${'recorded at'.padEnd(23)}  ${'request'.padEnd(44)}  ${'recorded'.padEnd(10)}  ${'replayed'.padEnd(10)}  result`);
  for (const r of rows) {
    lines.push(
      `${String(r.n).padStart(3)}  ${shortTime(r.request.at).padEnd(23)}  ${requestCell(r).padEnd(44)}  ${recordedCell(r).padEnd(10)}  ${replayedCell(r).padEnd(10)}  ${resultCell(r)}`,
    );
  }
  const differing = rows.filter((r) => r.result === 'differs' || r.result === 'error');
  if (differing.length > 0) {
    lines.push('', 'Differences:');
    for (const r of differing) {
      lines.push(`  #${r.n} ${r.request.method} ${r.request.target} (event ${r.request.eventId})`);
      if (r.error) lines.push(`      no answer: ${r.error}`);
      for (const d of r.comparison?.differences ?? []) {
        if (d.json) for (const j of d.json) lines.push(`      ${describeDifference(j)}`);
        else lines.push(`      ${d.message}`);
      }
    }
  }
  const flagged = rows.filter((r) => r.flags.length > 0);
  if (flagged.length > 0) {
    lines.push('', 'Not replayed faithfully:');
    for (const r of flagged) {
      lines.push(
        `  #${r.n} ${r.request.method} ${r.request.target} (event ${r.request.eventId})${r.result === 'skipped' ? ': skipped (--send-unfaithful sends what was kept)' : ''}`,
      );
      for (const f of r.flags) lines.push(`      ${f.code}: ${f.message}`);
    }
  }
  const notes = rows.filter((r) => (r.comparison?.notes.length ?? 0) > 0 || (r.comparison?.masked.length ?? 0) > 0);
  if (notes.length > 0) {
    lines.push('', 'Compared in part:');
    for (const r of notes) {
      const parts = [...r.comparison!.notes];
      if (r.comparison!.masked.length > 0)
        parts.push(`masked in the record, not compared: ${r.comparison!.masked.map((p) => (p === '' ? '(body)' : p)).join(', ')}`);
      lines.push(`  #${r.n} ${r.request.method} ${r.request.target}: ${parts.join('; ')}`);
    }
  }
  lines.push('');
  lines.push(
    ctx.dryRun
      ? `${s.requests - s.skipped} would be sent, ${s.skipped} skipped, ${s.flagged} flagged; nothing was sent`
      : `${s.requests} requests: ${s.matched} match, ${s.differed} differ, ${s.errors} failed, ${s.skipped} skipped; ${s.flagged} flagged`,
  );
  return `${lines.join('\n')}\n`;
}

/** What a dry run would send, request by request (the operator's token as a placeholder). */
export function formatDryRun(rows: ReplayRow[], headersOf: (r: ReplayRow) => Record<string, string>): string {
  const lines: string[] = [];
  for (const r of rows) {
    if (r.result === 'skipped') {
      lines.push(`#${r.n} (skipped) ${r.request.method} ${r.url}`);
      continue;
    }
    lines.push(`#${r.n} ${r.request.method} ${r.url}`);
    for (const [k, v] of Object.entries(headersOf(r))) lines.push(`    ${k}: ${v}`);
    if (r.request.body !== null && r.request.body !== '')
      lines.push(`    body (${Buffer.byteLength(r.request.body)} bytes): ${r.request.body.length > 200 ? `${r.request.body.slice(0, 200)}…` : r.request.body}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n\n` : '';
}

/** The --json report. */
export function jsonReport(rows: ReplayRow[], ctx: ReportContext, headersOf: (r: ReplayRow) => Record<string, string>): Record<string, unknown> {
  return {
    target: ctx.target,
    selection: ctx.selection,
    dry_run: ctx.dryRun,
    summary: summarise(rows),
    requests: rows.map((r) => ({
      n: r.n,
      event: { id: r.request.eventId },
      '@timestamp': r.request.at > 0 ? new Date(r.request.at).toISOString() : null,
      request: { method: r.request.method, target: r.request.target, url: r.url, route: r.request.route, headers: headersOf(r), body: r.request.body },
      recorded: r.request.recorded
        ? { status: r.request.recorded.status, size: r.request.recorded.size, sha256: r.request.recorded.sha256, truncated: r.request.recorded.truncated }
        : null,
      replayed: r.replayed ? { status: r.replayed.status, size: r.replayed.size, sha256: r.replayed.sha256, latency_ms: r.replayed.latencyMs } : null,
      result: r.result,
      error: r.error ?? null,
      differences: r.comparison?.differences ?? [],
      compared: r.comparison?.compared ?? [],
      masked: r.comparison?.masked ?? [],
      notes: r.comparison?.notes ?? [],
      flags: r.flags,
    })),
  };
}
