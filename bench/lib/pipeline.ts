/**
 * The whole pipeline as `npm start` runs it, for a benchmark: the same components
 * (scripts/lib/components.ts), the same supervisor and first-run setup, each component in a
 * process of its own, on a fresh data directory and free ports. Component log lines go to a file
 * (`<dir>/pipeline.log`), not to the benchmark's output.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supervisor, waitForHttp, waitForPort } from '../../scripts/lib/supervisor.js';
import { pipelineComponents, type StartSettings } from '../../scripts/lib/components.js';
import { busyPorts, portsInUse, readStartSettings } from '../../scripts/lib/start-settings.js';
import { setup } from '../../scripts/lib/setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Pipeline {
  settings: StartSettings;
  dir: string;
  edge: string;
  esUrl: string;
  brokers: string[];
  logFile: string;
  /** pid of each component's process, by name (embedded-kafka, embedded-search, masker, ...) */
  pids(): Record<string, number>;
  /** how many times each component was restarted since the start (it exited) */
  restarts(): Record<string, number>;
  stop(): Promise<void>;
}

/** Ports for every component: random, checked free, the 7 ops ports consecutive (as npm start needs them). */
async function freeSettings(dir: string): Promise<StartSettings> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const env = {
      ...process.env,
      AUDIT_DATA_DIR: dir,
      AUDIT_KAFKA_PORT: String(base),
      AUDIT_ES_PORT: String(base + 1),
      AUDIT_INTERCEPTOR_PORT: String(base + 2),
      AUDIT_DEMO_AUTH_PORT: String(base + 3),
      AUDIT_DEMO_UPSTREAM_PORT: String(base + 4),
      AUDIT_DEMO_WEBHOOK_PORT: String(base + 5),
      AUDIT_OPS_BASE_PORT: String(base + 6),
      // the embedded defaults: never an outside Kafka or Elasticsearch
      AUDIT_KAFKA_BROKERS: '',
      AUDIT_ES_URL: '',
      // never restarted for being unhealthy: on a loaded machine /healthz can miss its 1 s probe
      // for minutes, and npm start's supervisor then restarted the interceptor in the middle of a
      // measured run (a component that exits is still restarted, and counted: restarts())
      AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS: '0',
    };
    const { settings, problems } = readStartSettings(root, env);
    if (problems.length > 0) throw new Error(`pipeline settings: ${problems.join('; ')}`);
    if ((await busyPorts(settings.host, portsInUse(settings))).length === 0) return settings;
  }
  throw new Error('found no free range of ports for the pipeline');
}

export async function startPipeline(say: (line: string) => void): Promise<Pipeline> {
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-bench-'));
  const settings = await freeSettings(dir);
  const logFile = path.join(dir, 'pipeline.log');
  const log = createWriteStream(logFile);
  // the ANSI colours of formatLine are only used on a terminal; this is a file
  const supervisor = new Supervisor((line) => log.write(line + '\n'), { unhealthyRestartMs: settings.unhealthyRestartMs });
  const onExit = () => supervisor.killAll();
  process.on('exit', onExit);
  // Ctrl-C or a kill: no component outlives the benchmark, and its data directory goes with it
  const onSignal = (signal: NodeJS.Signals) => {
    supervisor.killAll();
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`e2e: stopped by ${signal}; every component killed\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const { infrastructure, services } = pipelineComponents(settings, { waitForHttp, waitForPort });
  const started: string[] = [];
  try {
    for (const c of infrastructure) {
      say(`starting ${c.name}`);
      await supervisor.start({ ...c, script: path.join(root, c.script) });
      started.push(c.name);
    }
    say(await setup(settings));
    for (const c of services) {
      say(`starting ${c.name}`);
      await supervisor.start({ ...c, script: path.join(root, c.script) });
      started.push(c.name);
    }
  } catch (err) {
    await supervisor.stopAll(5_000);
    throw new Error(`${(err as Error).message} (component logs: ${logFile})`, { cause: err });
  }
  return {
    settings,
    dir,
    edge: `http://${settings.host}:${settings.interceptorPort}`,
    esUrl: `http://${settings.host}:${settings.esPort}`,
    brokers: [`${settings.host}:${settings.kafkaPort}`],
    logFile,
    pids: () => supervisor.pids(),
    restarts: () => Object.fromEntries(started.map((n) => [n, supervisor.restartsOf(n)])),
    async stop() {
      await supervisor.stopAll();
      process.off('exit', onExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await new Promise((r) => log.end(r));
    },
  };
}

/** Removes a pipeline's data directory (kept when the run failed, for its logs). */
export function removePipelineDir(p: Pipeline): void {
  rmSync(p.dir, { recursive: true, force: true });
}
