import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const watchdog = fileURLToPath(new URL('./orphan-watchdog.ts', import.meta.url));

/**
 * Runs the pipeline's components as child processes: prefixed, readable log lines; restart with
 * backoff when one dies unexpectedly; stop in reverse start order (the edge first, the broker and
 * search node last) so every stage can drain and commit.
 */

export interface ComponentSpec {
  name: string;
  /** Script to run with `node --conditions=source --import tsx`. */
  script: string;
  args?: string[];
  env?: Record<string, string>;
  /** Resolves when the component is ready to serve. */
  ready?: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /**
   * Asked every few seconds once the component is ready (its /healthz): a component unhealthy for
   * longer than the supervisor's unhealthyRestartMs is stopped (SIGTERM, SIGKILL after the grace
   * period) and restarted like one that exited. A process can be alive and useless: a consumer
   * given up, a stage stuck behind a dead-letter storm.
   */
  healthy?: () => Promise<boolean>;
}

export interface SupervisorOptions {
  /** How long a component may stay unhealthy before it is restarted; 0: never. Default 120 s. */
  unhealthyRestartMs?: number;
  /** How often health is asked. Default 5 s. */
  healthIntervalMs?: number;
  /** Grace between SIGTERM and SIGKILL for an unhealthy restart. Default 15 s. */
  graceMs?: number;
}

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92, 94];
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);

/** One pino JSON line -> `12:01:02 masker     info  batch committed records=500`. */
export function formatLine(name: string, color: number, line: string): string {
  const tag = paint(color, name.padEnd(16));
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${new Date().toISOString().slice(11, 19)} ${tag} ${line}`;
  }
  if (rec === null || typeof rec !== 'object') return `${tag} ${line}`;
  const { time, level, msg, pid: _p, hostname: _h, name: _n, ...rest } = rec;
  const t = typeof time === 'string' ? time.slice(11, 19) : new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 19);
  const lvl = LEVELS[level as number] ?? String(level ?? 'info');
  const lvlText = lvl === 'error' || lvl === 'fatal' ? paint(31, lvl.padEnd(5)) : lvl === 'warn' ? paint(33, lvl.padEnd(5)) : lvl.padEnd(5);
  const extras = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${tag} ${lvlText} ${String(msg ?? '')}${extras ? ' ' + paint(90, extras) : ''}`;
}

export function waitForPort(port: number, host = '127.0.0.1'): () => Promise<boolean> {
  return () =>
    new Promise((resolve) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
}

export function waitForHttp(url: string): () => Promise<boolean> {
  return async () => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return res.status < 500;
    } catch {
      return false;
    }
  };
}

interface Running {
  spec: ComponentSpec;
  child?: ChildProcess;
  color: number;
  restarts: number;
  stopping: boolean;
  /** Since when the component answers unhealthy (epoch ms), undefined while healthy. */
  unhealthySince?: number;
  /** Health is asked only once the component was ready (or healthy) after its last spawn. */
  watched: boolean;
  healthTimer?: NodeJS.Timeout;
}

export class Supervisor {
  private readonly running: Running[] = [];
  private stopped = false;

  private readonly unhealthyRestartMs: number;
  private readonly healthIntervalMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
    options: SupervisorOptions = {},
  ) {
    this.unhealthyRestartMs = options.unhealthyRestartMs ?? 120_000;
    this.healthIntervalMs = options.healthIntervalMs ?? 5_000;
    this.graceMs = options.graceMs ?? 15_000;
  }

  /** The current process id of each running component, by name (for benchmarks reading /proc). */
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.running) if (r.child?.pid !== undefined && r.child.exitCode === null && r.child.signalCode === null) out[r.spec.name] = r.child.pid;
    return out;
  }

  /** Restarts so far of the named component (exits and unhealthy restarts). */
  restartsOf(name: string): number {
    return this.running.find((r) => r.spec.name === name)?.restarts ?? 0;
  }

  private say(level: number, msg: string, extra: Record<string, unknown> = {}): void {
    this.out(formatLine('supervisor', 37, JSON.stringify({ level, msg, ...extra })));
  }

  /** Asks a ready component's health; restarts it once it has been unhealthy for too long. */
  private watch(entry: Running): void {
    const probe = entry.spec.healthy;
    if (!probe || this.unhealthyRestartMs <= 0) return;
    clearInterval(entry.healthTimer);
    entry.healthTimer = setInterval(() => {
      const child = entry.child;
      if (this.stopped || entry.stopping || !child || child.exitCode !== null || child.signalCode !== null) return;
      void probe().then((ok) => {
        if (child !== entry.child || this.stopped || entry.stopping) return;
        if (ok) {
          entry.watched = true;
          if (entry.unhealthySince !== undefined) this.say(30, `${entry.spec.name} is healthy again`);
          entry.unhealthySince = undefined;
          return;
        }
        // starting up after a restart is not being unhealthy: only once it was healthy or ready
        if (!entry.watched) return;
        const now = Date.now();
        if (entry.unhealthySince === undefined) {
          entry.unhealthySince = now;
          this.say(40, `${entry.spec.name} is unhealthy; restarting it if it stays so for ${this.unhealthyRestartMs} ms`);
          return;
        }
        if (now - entry.unhealthySince < this.unhealthyRestartMs) return;
        this.say(50, `${entry.spec.name} unhealthy for ${now - entry.unhealthySince} ms: restarting it`, { unhealthyRestartMs: this.unhealthyRestartMs });
        entry.unhealthySince = undefined;
        entry.watched = false;
        const timer = setTimeout(() => child.kill('SIGKILL'), this.graceMs);
        timer.unref();
        child.once('exit', () => clearTimeout(timer));
        child.kill('SIGTERM'); // the exit handler restarts it
      });
    }, this.healthIntervalMs);
    entry.healthTimer.unref();
  }

  /** Starts one component and waits until it is ready (or throws with its last log lines). */
  async start(spec: ComponentSpec): Promise<void> {
    const entry: Running = { spec, color: COLORS[this.running.length % COLORS.length]!, restarts: 0, stopping: false, watched: false };
    this.running.push(entry);
    this.spawn(entry);
    this.watch(entry);
    if (spec.ready) {
      const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
      while (!(await spec.ready())) {
        if (Date.now() > deadline) throw new Error(`${spec.name} did not become ready in ${(spec.readyTimeoutMs ?? 60_000) / 1000} s`);
        if (entry.child?.exitCode !== null && entry.child?.exitCode !== undefined && entry.restarts > 3) {
          throw new Error(`${spec.name} keeps exiting (code ${entry.child.exitCode}); see its log lines above`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      entry.watched = true;
    }
  }

  private spawn(entry: Running): void {
    const { spec } = entry;
    // The watchdog stops the child should this process die without stopping it (see the file).
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--import', watchdog, spec.script, ...(spec.args ?? [])], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own: a terminal's Ctrl-C (SIGINT to the foreground group) reaches
      // the supervisor only, which then stops the children in order instead of all at once.
      detached: true,
    });
    entry.child = child;
    entry.unhealthySince = undefined;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (line.trim()) this.out(formatLine(spec.name, entry.color, line));
      });
    }
    child.on('exit', (code, signal) => {
      if (entry.stopping || this.stopped) return;
      entry.restarts++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(entry.restarts, 6));
      entry.watched = false;
      this.say(50, `${spec.name} exited (${signal ?? code}${code === 75 ? ': its consumer stopped for good' : ''}); restarting in ${delay} ms`, {
        restarts: entry.restarts,
      });
      setTimeout(() => {
        if (!this.stopped && !entry.stopping) this.spawn(entry);
      }, delay).unref();
    });
  }

  /**
   * Kills every component's process group at once, synchronously: for `process.on('exit')`, when
   * this process ends by any path other than stopAll() (a second Ctrl-C, an error while starting).
   */
  killAll(): void {
    this.stopped = true;
    for (const entry of this.running) clearInterval(entry.healthTimer);
    for (const entry of this.running) {
      const pid = entry.child?.pid;
      if (pid === undefined || entry.child!.exitCode !== null || entry.child!.signalCode !== null) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Stops every component, last started first, each with SIGTERM then SIGKILL after a grace period. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.stopped = true;
    for (const entry of this.running) clearInterval(entry.healthTimer);
    for (const entry of [...this.running].reverse()) {
      entry.stopping = true;
      const child = entry.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
  }
}
