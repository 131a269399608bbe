/**
 * `npm start`: the whole pipeline on one machine, no Docker. Starts the embedded broker and
 * search node, creates topics, templates and keys on first run, then every service and the demo
 * (authorization server, upstream API, webhook receiver) as supervised child processes, and
 * prints what to try. Ctrl-C stops everything in order; data stays in ./.data (AUDIT_DATA_DIR).
 * Pointing at a real Kafka / Elasticsearch is a matter of AUDIT_KAFKA_BROKERS / AUDIT_ES_URL:
 * the embedded parts are then not started.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supervisor, waitForHttp, waitForPort, formatLine, type ComponentSpec } from './lib/supervisor.js';
import { pipelineComponents, type StartSettings } from './lib/components.js';
import { busyPorts, lockDataDir, portsInUse, readStartSettings } from './lib/start-settings.js';
import { setup } from './lib/setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg: string) => process.stdout.write(formatLine('start', 37, JSON.stringify({ level: 30, msg })) + '\n');
function refuse(msg: string, code: number): never {
  process.stderr.write(formatLine('start', 37, JSON.stringify({ level: 60, msg })) + '\n');
  process.exit(code);
}

// Everything that can be checked is checked before anything starts, and reported at once.
const { settings, problems } = readStartSettings(root, process.env);
if (problems.length > 0) refuse(`cannot start: ${problems.length} setting(s) wrong:\n  - ${problems.join('\n  - ')}`, 2);
mkdirSync(settings.dataDir, { recursive: true });
const lock = lockDataDir(settings.dataDir);
if ('heldBy' in lock)
  refuse(
    `cannot start: npm start (pid ${lock.heldBy}) already runs on ${settings.dataDir}; stop it first, or set AUDIT_DATA_DIR and the ports for a second instance`,
    1,
  );
const busy = await busyPorts(settings.host, portsInUse(settings));
if (busy.length > 0) {
  lock.release();
  refuse(`cannot start: ${busy.length} port(s) already in use (another program, or another npm start):\n  - ${busy.join('\n  - ')}`, 1);
}
process.on('exit', () => lock.release());

const supervisor = new Supervisor(undefined, { unhealthyRestartMs: settings.unhealthyRestartMs });
// Whatever ends this process (a second Ctrl-C, a failed start), no component outlives it.
process.on('exit', () => supervisor.killAll());
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('stopping every component (Ctrl-C again to force)…');
  await supervisor.stopAll();
  say(`stopped; data kept in ${settings.dataDir}`);
  process.exit(code);
};
// The children run in process groups of their own, so a terminal's Ctrl-C reaches this process
// alone and the pipeline stops in order: the edge first, the broker and search node last.
process.on('SIGINT', () => (stopping ? process.exit(130) : void stop(0)));
process.on('SIGTERM', () => void stop(0));
process.on('SIGHUP', () => void stop(0));

const { infrastructure, services } = pipelineComponents(settings, { waitForHttp, waitForPort });
const all = [...infrastructure, ...services];
const present = (c: ComponentSpec) => existsSync(path.join(root, c.script));
const steps = all.filter(present).length + 1;
let step = 0;
const launch = async (c: ComponentSpec) => {
  say(`[${++step}/${steps}] starting ${c.name}…`);
  await supervisor.start({ ...c, script: path.join(root, c.script) });
};
const missingInfra = infrastructure.filter((c) => !present(c));
if (missingInfra.length > 0) {
  say(
    `cannot start: ${missingInfra.map((c) => c.script).join(', ')} not built yet; set AUDIT_KAFKA_BROKERS / AUDIT_ES_URL to use a running Kafka / Elasticsearch`,
  );
  process.exit(1);
}
try {
  for (const c of infrastructure) await launch(c);
  say(`[${++step}/${steps}] setting up topics, index templates and keys…`);
  say(await setup(settings));
  for (const c of services.filter(present)) await launch(c);
} catch (err) {
  say(`start failed: ${(err as Error).message}`);
  await stop(1);
}
const missing = all.filter((c) => !present(c));
for (const c of missing) say(`not built yet: ${c.name} (${c.script} does not exist)`);
say(readySummary(settings));

function readySummary(s: StartSettings): string {
  const edge = `http://${s.host}:${s.interceptorPort}`;
  return [
    'ready. Try:',
    `  open http://${s.host}:${s.consolePort}/                                  # the audit console (demo login: audit:read + audit:approve): search, sessions, alerts, integrity, approvals`,
    `  TOKEN=$(curl -s -u demo-web:demo-web-secret -d grant_type=password -d username=alice -d password=alice-pw ${edge}/oauth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -i -H "Authorization: Bearer $TOKEN" ${edge}/api/orders`,
    `  curl -i -H "Authorization: Bearer not.a.token" ${edge}/api/orders          # 401, audited as token.rejected`,
    `  curl -s -u demo-web:demo-web-secret -d token=$TOKEN ${edge}/oauth/revoke      # revoke, then the first curl gets 401`,
    `  npm run -s audit -- search 'event.action:token-rejected' --since 15m`,
    `  npm run -s audit -- alerts tail`,
    `  npm run -s audit -- sessions --subject alice                           # alice's sessions: start, end and how, IPs, requests`,
    `  npm run -s audit -- archive verify --dir ${path.join(s.dataDir, 'archive')}`,
    `  npm run demo:traffic                                                   # a few minutes of traffic, attacks included`,
    `Ctrl-C stops everything; data stays in ${s.dataDir}.`,
  ].join('\n');
}
