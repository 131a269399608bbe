/**
 * Events/s through the enricher (audit.masked.v1 -> audit.enriched.v1) on the embedded broker,
 * against a pass-through consumer (consume + produce the same bytes + commit) in the same run.
 * Geo and ASN come from a MaxMind-format database built for the run (every client IP is public
 * and found), route scopes from a 20-rule policy.
 *   npm run bench -w services/enricher          (BENCH_EVENTS=20000 by default)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TOPICS } from '@jwt-audit/events';
import { buildMmdb } from '@jwt-audit/enrichment/testing';
import { createEnricherService, enricherDefaults } from '../src/index.js';
import {
  cpuSeconds,
  identityStage,
  timed,
  logger,
  N,
  passThrough,
  processed,
  produceEvents,
  quietMetrics,
  rawEvent,
  startBench,
  until,
} from '../../../scripts/lib/stage-bench.js';

const dir = mkdtempSync(path.join(tmpdir(), 'enricher-bench-'));
const cityDb = path.join(dir, 'city.mmdb');
const asnDb = path.join(dir, 'asn.mmdb');
writeFileSync(
  cityDb,
  buildMmdb({
    '81.2.0.0/16': {
      country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
      city: { names: { en: 'London' } },
      location: { latitude: 51.5142, longitude: -0.0931 },
    },
  }),
);
writeFileSync(asnDb, buildMmdb({ '81.2.0.0/16': { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } }, 'Test-ASN'));
const routes = [
  ...Array.from({ length: 18 }, (_, i) => ({ route: `/svc${i}/:id`, scopes: [`svc${i}:read`] })),
  { method: 'POST', route: '/orders', scopes: ['orders:write'] },
  { route: '/orders/:id', scopes: ['orders:read'] },
];

const b = await startBench();
try {
  // the same http.exchange events the masker bench uses (the enricher reads fields masking leaves alone)
  await produceEvents(b, TOPICS.masked, rawEvent);
  const pass1 = await timed(() => passThrough(b, TOPICS.masked, 'bench-pass'));
  let passSecs = pass1.secs;
  const identity = await timed(() => identityStage(b, TOPICS.masked, 'bench-identity'));
  const identitySecs = identity.secs;
  const metrics = quietMetrics();
  const svc = createEnricherService(
    {
      ...enricherDefaults,
      kafka: { brokers: b.brokers, clientId: 'bench-enricher' },
      ops: {},
      groupId: 'bench-enricher',
      geoip: { cityDb, asnDb },
      policy: { ...enricherDefaults.policy, routes },
    },
    { logger, metrics },
  );
  await svc.start();
  const cpu0 = { self: process.cpuUsage(), broker: cpuSeconds(b.brokerProc.pid!) };
  const t = process.hrtime.bigint();
  await until(async () => (await processed(metrics, 'enricher')) >= N);
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  const self = process.cpuUsage(cpu0.self);
  const brokerCpu = cpuSeconds(b.brokerProc.pid!) - cpu0.broker;
  await svc.stop();
  const pass2 = await timed(() => passThrough(b, TOPICS.masked, 'bench-pass-2'));
  passSecs = Math.min(passSecs, pass2.secs);
  const result = {
    bench: 'enricher',
    events: N,
    enricher: { eventsPerSec: Math.round(N / secs), ofPassThrough: +(passSecs / secs).toFixed(2) },
    passThrough: { eventsPerSec: Math.round(N / passSecs) },
    identityStage: { eventsPerSec: Math.round(N / identitySecs), ofPassThrough: +(passSecs / identitySecs).toFixed(2) },
    // CPU of this process per event (µs): kafkajs client work for all three, plus decode/encode
    // for the identity stage, plus the stage's own work
    cpuUsPerEvent: {
      passThrough: Math.min(pass1.cpuUsPerEvent, pass2.cpuUsPerEvent),
      identityStage: identity.cpuUsPerEvent,
      stage: Math.round((self.user + self.system) / N),
    },
    cpuSeconds: { enricherProcess: +((self.user + self.system) / 1e6).toFixed(1), broker: +brokerCpu.toFixed(1) },
  };
  console.log(
    `events=${N}: decode + encode alone (identity transform stage) ${result.identityStage.eventsPerSec} events/s = ${result.identityStage.ofPassThrough}x`,
  );
  console.log(
    `events=${N}: enricher ${result.enricher.eventsPerSec} events/s = ${result.enricher.ofPassThrough}x a pass-through consumer (${result.passThrough.eventsPerSec} events/s); target >= 0.6x`,
  );
  console.log(
    `CPU per event in this process: pass-through ${result.cpuUsPerEvent.passThrough} µs, identity stage ${result.cpuUsPerEvent.identityStage} µs, ${result.bench} ${result.cpuUsPerEvent.stage} µs`,
  );
  console.log(JSON.stringify(result));
} finally {
  await b.close();
  rmSync(dir, { recursive: true, force: true });
}
