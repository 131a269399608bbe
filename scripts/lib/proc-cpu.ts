import { readFileSync } from 'node:fs';

/**
 * CPU time (user + system) a process has used so far, in µs, from Linux /proc: all its threads,
 * or with `mainThread` its main thread alone (the event loop). Clock ticks are 1/100 s.
 */
export function cpuMicros(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the command name may hold spaces and ')'
  return (Number(fields[11]) + Number(fields[12])) * 1e4;
}
