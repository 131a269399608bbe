import type { Client } from '@elastic/elasticsearch';
import {
  describeSelection,
  EXCHANGE_ACTIONS,
  NotAnExchange,
  outgoing,
  planRequest,
  productionMatch,
  productionUpstreams,
  replay,
  selectExchanges,
  type PlannedRequest,
  type ProductionUpstream,
  type ReplayRow,
  type ReportContext,
  type Selection,
} from '@jwt-audit/cli';
import type { ConsoleConfig } from './config.js';
import type { ParamError } from './search-query.js';
import type { Hit } from './reader.js';
import { str } from './timeline.js';

/**
 * Replay from a session's timeline "to a target configured for the console": the code of
 * `audit replay` (packages/cli/src/replay: selection, plan, production safety, the replay loop
 * and its comparison), with the console's Elasticsearch client and settings. The operator's
 * token comes with the form and is used for that one replay: never kept, logged or published.
 * A target that is a production upstream (the console's list, or the interceptor's
 * AUDIT_INTERCEPTOR_UPSTREAMS) is refused at start and again at every replay (names resolve
 * anew); the console has no --allow-production.
 */

export class ReplayRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: ParamError[] = [],
  ) {
    super(message);
  }
}

export interface ReplayRun {
  rows: ReplayRow[];
  context: ReportContext;
  /** The headers each request carries, the operator's token as a placeholder. */
  headersOf: (r: ReplayRow) => Record<string, string>;
}

export interface Replayer {
  /** Undefined: no target configured, no Replay button. */
  readonly target: URL | undefined;
  readonly role: string;
  /** Refuses (throws) a target that is a production upstream. */
  check(): Promise<void>;
  run(sel: Selection, o: { token: string | null; dryRun: boolean }): Promise<ReplayRun>;
}

/** A bearer token as RFC 6750 allows it (b64token), as `audit replay` checks it. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
export const MAX_TOKEN = 16_384;

export function tokenProblem(token: string): string | undefined {
  if (token.length > MAX_TOKEN) return `longer than ${MAX_TOKEN} characters`;
  if (!B64TOKEN.test(token))
    return 'not a bearer token (RFC 6750 b64token: letters, digits and - . _ ~ + /, then = padding); paste the token itself, without "Bearer "';
  return undefined;
}

/** The config's problems a schema cannot see (reported at start with the rest). */
export function replayConfigProblems(c: ConsoleConfig['replay'], environment: NodeJS.ProcessEnv): string[] {
  if (!c.target) return [];
  const p: string[] = [];
  try {
    const u = new URL(c.target);
    if (u.username || u.password) p.push('replay.target: no credentials in the URL (the operator gives a token in the form)');
    if (u.search || u.hash) p.push('replay.target: a base URL, no query or fragment');
  } catch {
    p.push('replay.target: not a URL (AUDIT_CONSOLE_REPLAY_TARGET)');
  }
  try {
    productionUpstreams({ productionUpstream: c.productionUpstreams }, environment);
  } catch (err) {
    p.push(`replay: ${(err as Error).message}`);
  }
  return p;
}

/** Which recorded requests a timeline's Replay covers: the exchanges among its events (ids), or a sid. */
export function exchangeIds(events: Hit[]): string[] {
  return events.filter((h) => EXCHANGE_ACTIONS.includes(str(h.doc, 'event.action') ?? '') && str(h.doc, 'http.request.method') !== undefined).map((h) => h.id);
}

export function createReplayer(c: ConsoleConfig['replay'], es: Client, eventsIndex: string, environment: NodeJS.ProcessEnv = process.env): Replayer {
  const target = c.target ? new URL(c.target) : undefined;
  const production: ProductionUpstream[] = target ? productionUpstreams({ productionUpstream: c.productionUpstreams }, environment) : [];
  const check = async () => {
    if (!target) return;
    const hit = await productionMatch(target, production);
    if (hit)
      throw new ReplayRefused(
        403,
        `the console's replay target ${target.origin} is a production upstream (${hit.url}, from ${hit.source}): refused; configure a test instance as AUDIT_CONSOLE_REPLAY_TARGET`,
      );
  };
  return {
    target,
    role: c.role,
    check,
    async run(sel, o) {
      if (!target) throw new ReplayRefused(404, 'no replay target is configured on this console (AUDIT_CONSOLE_REPLAY_TARGET)');
      await check();
      const { exchanges, total } = await selectExchanges(es, eventsIndex, sel, c.limit);
      if (total > c.limit)
        throw new ReplayRefused(422, `${total} recorded requests match, more than the console replays at once (${c.limit}): use audit replay with --limit`);
      if (exchanges.length === 0) throw new ReplayRefused(422, `no recorded HTTP exchange of ${describeSelection(sel)} to replay`);
      const plan: PlannedRequest[] = [];
      for (const x of exchanges) {
        try {
          plan.push(planRequest(x.id, x.doc));
        } catch (err) {
          if (err instanceof NotAnExchange) throw new ReplayRefused(422, err.message);
          throw err;
        }
      }
      const rows = await replay(plan, { target, token: o.token, rate: c.rate, pace: 'none', timeoutMs: c.timeoutMs, dryRun: o.dryRun, sendUnfaithful: false });
      const headersOf = (r: ReplayRow) => {
        const h = outgoing(r.request, { target, token: 'x' }).headers;
        if (h.authorization) h.authorization = 'Bearer <operator token>';
        return h;
      };
      return { rows, headersOf, context: { target: target.href, selection: describeSelection(sel), dryRun: o.dryRun, rate: c.rate, pace: 'none' } };
    },
  };
}
