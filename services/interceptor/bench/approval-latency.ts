/**
 * Approval latency: from `audit approve` (its function, decideApproval: read audit.approvals.v1
 * to its end with a throwaway consumer group, check, write the decision and its audit event) to
 * the held request forwarded and answered, on the embedded broker, two interceptors sharing it
 * (the request is held on A). BENCH_APPROVALS approvals one after another (default 200). Also
 * measured in the same run:
 *   - decision written -> forwarded: the part the interceptor owns (its follower's fetch);
 *   - baseline: the same POST on the same route with a body under the threshold (no approval),
 *     so the figures read as ratios against an ordinary proxied request on this machine.
 *   - ticket use: an approved ticket presented on B (its use claim written and read back from the
 *     log before forwarding), against the same DELETE on the same instance without a ticket rule
 *     (an ordinary proxied request): the added latency of a single-use ticket.
 * The command line's node start-up (~1 s with tsx from source) is not in the figure.
 * Prints a table and one JSON line. Target: p99 of approve -> forwarded below 1 s.
 */
import { decideApproval } from '@jwt-audit/cli';
import { startApprovalStack } from '../src/testdata/approval-stack.js';
import { waitFor } from '../src/testdata/harness.js';

const n = Math.max(1, Number(process.env.BENCH_APPROVALS ?? 200));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ms = (t0: bigint, t1: bigint) => Number(t1 - t0) / 1e6;

const s = await startApprovalStack();
try {
  const approveToForwarded: number[] = [];
  const writtenToForwarded: number[] = [];
  const command: number[] = [];
  for (let i = 0; i < n; i++) {
    let forwardedAt = 0n;
    const answered = s.send(s.urlA, 'POST', '/api/payments', { body: { amount: 5_000, i } }).then((r) => {
      forwardedAt = process.hrtime.bigint();
      return r;
    });
    answered.catch(() => undefined); // awaited below; a failure is reported there
    const view = await waitFor('held', () =>
      s.a.approvals.book
        .ids()
        .map((id) => s.a.approvals.book.get(id, Date.now())!)
        .find((v) => v.status === 'pending' && v.request.rule === 'large-payment'),
    );
    // an approver decides after the alert, by when every instance knows the approval
    await waitFor('B knows it', () => s.b.approvals.book.get(view.id, Date.now()));
    const t0 = process.hrtime.bigint();
    const d = await decideApproval(s.kafka, { id: view.id, approver: 'bob', decision: 'granted', reason: null });
    const t1 = process.hrtime.bigint();
    if (!d.ok) throw new Error(`approve refused: ${d.code}`);
    const r = await answered;
    if (r.status !== 200) throw new Error(`held request answered ${r.status}`);
    approveToForwarded.push(ms(t0, forwardedAt));
    writtenToForwarded.push(Math.max(0, ms(t1, forwardedAt)));
    command.push(ms(t0, t1));
    if ((i + 1) % 50 === 0) process.stderr.write(`  ${i + 1}/${n} approvals\n`);
  }
  const baseline: number[] = [];
  for (let i = 0; i < Math.min(n, 200); i++) {
    const t0 = process.hrtime.bigint();
    const r = await s.send(s.urlA, 'POST', '/api/payments', { body: { amount: 5, i } });
    if (r.status !== 200) throw new Error(`baseline answered ${r.status}`);
    baseline.push(ms(t0, process.hrtime.bigint()));
  }
  const ticketUse: number[] = [];
  const plainDelete: number[] = [];
  for (let i = 0; i < Math.min(n, 200); i++) {
    const p = `/api/admin/bench-${i}`;
    const asked = await s.send(s.urlA, 'DELETE', p);
    const id = asked.body.approvalId as string;
    if (asked.status !== 403 || !id) throw new Error(`ticket request answered ${asked.status}`);
    await waitFor('B knows it', () => s.b.approvals.book.get(id, Date.now()));
    if ((await s.callback({ approvalId: id, decision: 'approve', approver: 'bob' })).status !== 202) throw new Error('callback refused');
    await waitFor('B sees the grant', () => s.b.approvals.book.get(id, Date.now())?.status === 'granted');
    const t0 = process.hrtime.bigint();
    const r = await s.send(s.urlB, 'DELETE', p, { headers: { 'audit-approval': id } });
    if (r.status !== 200) throw new Error(`ticket use answered ${r.status} ${String(r.body.reason)}`);
    ticketUse.push(ms(t0, process.hrtime.bigint()));
    const t1 = process.hrtime.bigint();
    const plain = await s.send(s.urlB, 'DELETE', `/api/plain-${i}`);
    if (plain.status !== 200) throw new Error(`plain DELETE answered ${plain.status}`);
    plainDelete.push(ms(t1, process.hrtime.bigint()));
  }
  const row = (name: string, xs: number[]) => ({ name, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });
  const rows = [
    row('audit approve -> held request forwarded', approveToForwarded),
    row('  of which the command (read, check, write)', command),
    row('  decision written -> forwarded', writtenToForwarded),
    row('baseline: same route, no approval', baseline),
    row('ticket use (claim read back from the log)', ticketUse),
    row('  baseline: a DELETE without a ticket rule', plainDelete),
  ];
  process.stdout.write(`approval latency, ${n} approvals, embedded broker, two interceptors\n`);
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(46)} p50 ${r.p50.toFixed(1).padStart(7)} ms   p99 ${r.p99.toFixed(1).padStart(7)} ms   max ${r.max.toFixed(1).padStart(7)} ms\n`,
    );
  const p99 = pct(approveToForwarded, 99);
  const ratio = p99 / pct(baseline, 50);
  process.stdout.write(`p99 approve -> forwarded is ${ratio.toFixed(0)}x the baseline's p50; target p99 < 1000 ms: ${p99 < 1000 ? 'met' : 'NOT met'}\n`);
  const ticketAddedP50 = pct(ticketUse, 50) - pct(plainDelete, 50);
  const ticketRatio = pct(ticketUse, 50) / pct(plainDelete, 50);
  process.stdout.write(`ticket use adds ${ticketAddedP50.toFixed(1)} ms at p50 (${ticketRatio.toFixed(1)}x a DELETE without a ticket)\n`);
  process.stdout.write(
    `${JSON.stringify({ approvals: n, rows, p99Ms: p99, p99OverBaselineP50: ratio, targetMet: p99 < 1000, ticketUseAddedP50Ms: ticketAddedP50, ticketUseOverPlainP50: ticketRatio })}\n`,
  );
} finally {
  await s.stop();
}
