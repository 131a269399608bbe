import type { ServerResponse } from 'node:http';
import type { Problem } from '@jwt-audit/edge';

export { problem, PROBLEMS, type Problem } from '@jwt-audit/edge';

/** Writes a decision that does not let the request pass: its problem document, or (a preflight answered at the edge) its status and headers alone. */
export function sendDecision(res: ServerResponse, d: { status: number; problem: Problem | null; headers: Record<string, string> }): void {
  if (d.problem) return sendProblem(res, d.problem, d.headers);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(d.status, d.headers);
  res.end();
}

export function sendProblem(res: ServerResponse, p: Problem, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(p);
  res.writeHead(p.status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}
