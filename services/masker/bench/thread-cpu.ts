import { readdirSync, readFileSync } from 'node:fs';

/**
 * Per-thread scheduler times of this process, from Linux /proc/self/task/<tid>/schedstat: time on a
 * CPU and time spent runnable but waiting for one (run-queue delay), in µs. Node gives a process's
 * CPU, not a thread's, and the question a transform stage's bench must answer is which thread is
 * the limit: the worker busy all the time (its CPU per event is the ceiling), or every thread
 * partly idle (the stage waits on its round trips), or all of them waiting for a CPU (the machine
 * is shared). Empty where /proc is not there.
 */
export type ThreadTimes = Map<number, { runUs: number; waitUs: number }>;

export function threadTimes(): ThreadTimes {
  const out: ThreadTimes = new Map();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ');
      out.set(Number(tid), { runUs: Number(run) / 1e3, waitUs: Number(wait) / 1e3 });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

export interface ThreadShare {
  /** CPU µs per event (all the group's threads) */
  usPerEvent: number;
  /** share of the window its busiest thread was on a CPU (busy all the time: 100) */
  busyPct: number;
  /** share of the window that thread was runnable but waiting for a CPU */
  waitPct: number;
}

/**
 * What each group of threads did between two snapshots: the main thread (the Kafka client), the
 * transform threads (the tids that appeared when the stage started: its worker threads, and the
 * module loader thread each of them starts under tsx) and the rest (V8's GC and compiler helpers,
 * libuv's pool).
 */
export function threadShares(
  before: ThreadTimes,
  after: ThreadTimes,
  transformTids: Set<number>,
  events: number,
  secs: number,
): Record<'main' | 'transform' | 'other', ThreadShare> {
  type Group = { run: number; busiest: { run: number; wait: number } };
  const groups: Record<'main' | 'transform' | 'other', Group> = {
    main: { run: 0, busiest: { run: 0, wait: 0 } },
    transform: { run: 0, busiest: { run: 0, wait: 0 } },
    other: { run: 0, busiest: { run: 0, wait: 0 } },
  };
  for (const [tid, t] of after) {
    const b = before.get(tid) ?? { runUs: 0, waitUs: 0 };
    const g = groups[tid === process.pid ? 'main' : transformTids.has(tid) ? 'transform' : 'other'];
    const run = t.runUs - b.runUs;
    g.run += run;
    if (run > g.busiest.run) g.busiest = { run, wait: t.waitUs - b.waitUs };
  }
  const window = secs * 1e6;
  const share = (g: Group): ThreadShare => ({
    usPerEvent: Math.round(g.run / events),
    busyPct: Math.round((g.busiest.run / window) * 100),
    waitPct: Math.round((g.busiest.wait / window) * 100),
  });
  return { main: share(groups.main), transform: share(groups.transform), other: share(groups.other) };
}
