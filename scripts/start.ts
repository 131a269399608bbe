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
import { setup } from './lib/setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const settings: StartSettings = {
  root,
  dataDir: path.resolve(env.AUDIT_DATA_DIR ?? path.join(root, '.data')),
  host: env.AUDIT_HOST ?? '127.0.0.1',
  kafkaPort: Number(env.AUDIT_KAFKA_PORT ?? 9092),
  esPort: Number(env.AUDIT_ES_PORT ?? 9200),
  interceptorPort: Number(env.AUDIT_INTERCEPTOR_PORT ?? 8080),
  authPort: Number(env.AUDIT_DEMO_AUTH_PORT ?? 9000),
  upstreamPort: Number(env.AUDIT_DEMO_UPSTREAM_PORT ?? 9100),
  webhookPort: Number(env.AUDIT_DEMO_WEBHOOK_PORT ?? 9300),
  opsBasePort: Number(env.AUDIT_OPS_BASE_PORT ?? 9464),
  externalKafka: env.AUDIT_KAFKA_BROKERS,
  externalEs: env.AUDIT_ES_URL,
};
mkdirSync(settings.dataDir, { recursive: true });

const say = (msg: string) => process.stdout.write(formatLine('start', 37, JSON.stringify({ level: 30, msg })) + '\n');
const supervisor = new Supervisor();
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('stopping every component (Ctrl-C again to force)…');
  await supervisor.stopAll();
  say(`stopped; data kept in ${settings.dataDir}`);
  process.exit(code);
};
process.on('SIGINT', () => (stopping ? process.exit(130) : void stop(0)));
process.on('SIGTERM', () => void stop(0));

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
  say(`cannot start: ${missingInfra.map((c) => c.script).join(', ')} not built yet; set AUDIT_KAFKA_BROKERS / AUDIT_ES_URL to use a running Kafka / Elasticsearch`);
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
    `  TOKEN=$(curl -s -u demo-web:demo-web-secret -d grant_type=password -d username=alice -d password=alice-pw ${edge}/oauth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -i -H "Authorization: Bearer $TOKEN" ${edge}/api/orders`,
    `  curl -i -H "Authorization: Bearer not.a.token" ${edge}/api/orders          # 401, audited as token.rejected`,
    `  curl -s -u demo-web:demo-web-secret -d token=$TOKEN ${edge}/oauth/revoke      # revoke, then the first curl gets 401`,
    `  npm run -s audit -- search 'event.action:token-rejected' --since 15m`,
    `  npm run -s audit -- alerts tail`,
    `  npm run -s audit -- archive verify --dir ${path.join(s.dataDir, 'archive')}`,
    `  npm run demo:traffic                                                   # a few minutes of traffic, attacks included`,
    `Ctrl-C stops everything; data stays in ${s.dataDir}.`,
  ].join('\n');
}
