/**
 * The console in a real browser (playwright-core driving Debian's Chromium, no browser download),
 * over the whole pipeline on the embedded parts, with demo-like traffic through the real
 * interceptor: a login, requests, a refresh, and the rotated refresh token replayed from another
 * machine (refresh-token-reuse). As a newcomer would: sign in, search, brush the histogram, open
 * an event, open its session timeline and step to the reuse alert, download the event's inclusion
 * proof and check it with `audit archive check-proof`, and find the console's own audit.access
 * events. A screenshot of each page is written to services/console/.screenshots/ (gitignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import type { Client } from '@elastic/elasticsearch';
import { createKafkaClient } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { until } from '@jwt-audit/runtime/testing/wait';
import { readApprovals, runAudit } from '@jwt-audit/cli';
import { approvalKey } from '@jwt-audit/edge';
import { approvalCodec, TOPICS, type ApprovalRecord } from '@jwt-audit/events';
import { startUpstream } from '@jwt-audit/demo';
// the cross-service pipeline fixture of test/support (this test drives the whole pipeline, as test/ does)
import { DEMO_CLIENT_BASIC, DEMO_ROUTES, startPipeline } from '../../../test/support/pipeline.js';
import { defaults as consoleDefaults } from './config.js';
import { createConsoleService } from './service.js';

const CHROMIUM = '/usr/bin/chromium';
const logger = createLogger({ name: 'browser-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const shots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '.screenshots');

const step = (what: string) => {
  if (process.env.CONSOLE_TEST_DEBUG) process.stderr.write(`${new Date().toISOString()} ${what}\n`);
};

test('the console in Chromium: sign in, search, brush, event, session timeline to the reuse alert, proof checked by the CLI, own access events', {
  timeout: 300_000,
}, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  mkdirSync(shots, { recursive: true });
  step('pipeline');
  const p = await startPipeline({
    name: 'console-browser',
    namespace: 'browser',
    logger,
    stages: ['masker', 'enricher', 'indexer', 'archiver', 'detector', 'sessionizer'],
    interceptor: (config) => ({ ...config, routes: DEMO_ROUTES.filter((r) => r.name !== 'revoke'), trustedProxies: ['127.0.0.0/8'] }),
  });
  t.after(async () => {
    step('stopping');
    await p.stop();
    step('stopped');
  });
  const { dir, edge, es } = p;
  const kafkaCfg = p.kafka;
  const jwks = p.jwksFile;
  // the console's replay target: a test instance of the demo API (the interceptor's upstreams are production)
  const testApi = await startUpstream({ port: 0, logger });
  p.defer(() => testApi.close());
  const replay = { ...consoleDefaults.replay, target: testApi.url, productionUpstreams: [p.upstream.url, p.auth.url] };
  const consoleSvc = createConsoleService(
    {
      ...consoleDefaults,
      listen: { host: '127.0.0.1', port: 0 },
      elasticsearch: { url: p.esUrl },
      kafka: kafkaCfg('console'),
      archive: { dir: p.archiveDir, jwks },
      auth: { ...consoleDefaults.auth, demoLogin: true },
      replay,
      source: { service: 'console', instance: 'console-browser', environment: 'test' },
    },
    { logger, ops: false },
  );
  const { url: consoleUrl } = await consoleSvc.start();
  p.defer(() => consoleSvc.stop());

  step('traffic');
  // demo-like traffic: alice signs in on her laptop, works, refreshes; her old refresh token is replayed elsewhere
  const basic = DEMO_CLIENT_BASIC;
  const laptop = { 'x-forwarded-for': '198.51.100.23', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' };
  const tokenCall = async (body: string, headers: Record<string, string>) => {
    const r = await fetch(`${edge}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    return { status: r.status, body: (await r.json()) as { access_token?: string; refresh_token?: string } };
  };
  const login = await tokenCall('grant_type=password&username=alice&password=alice-pw', laptop);
  assert.equal(login.status, 200);
  for (let i = 0; i < 3; i++)
    await (await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${login.body.access_token}`, ...laptop } })).arrayBuffer();
  const refreshed = await tokenCall(`grant_type=refresh_token&refresh_token=${login.body.refresh_token}`, laptop);
  assert.equal(refreshed.status, 200);
  await (await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${refreshed.body.access_token}`, ...laptop } })).arrayBuffer();
  await tokenCall(`grant_type=refresh_token&refresh_token=${login.body.refresh_token}`, {
    'x-forwarded-for': '203.0.113.66',
    'user-agent': 'python-requests/2.31.0',
  });

  step('waiting for the alert');
  await until('the reuse alert indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.alerts-browser' });
    return (await es.count({ index: 'logs-jwt_audit.alerts-browser', query: { term: { 'rule.name': 'refresh-token-reuse' } } })).count > 0 ? true : undefined;
  });
  await until('the traffic indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.events-browser' });
    return (await es.count({ index: 'logs-jwt_audit.events-browser', query: { term: { 'user.id': 'alice' } } })).count >= 7 ? true : undefined;
  });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  p.defer(() => browser.close());
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  // a step that does not happen fails with what was awaited, well before the file's timeout
  page.setDefaultTimeout(20_000);
  const external: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(consoleUrl)) external.push(r.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const shot = (name: string, p: Page = page) => p.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  step('1. sign in (demo login, said on the page)');
  // 1. sign in (demo login, said on the page)
  await page.goto(`${consoleUrl}/search`);
  assert.match(page.url(), /\/login\?next=/);
  assert.match((await page.textContent('#demo-banner')) ?? '', /Demo login/);
  await shot('01-sign-in');
  await page.fill('input[name=name]', 'auditor');
  await page.click('#demo-sign-in');
  await page.waitForURL(/\/search/);
  assert.equal(await page.textContent('#signed-in-as'), 'auditor');

  step('2. search in the query string syntax of `audit search`');
  // 2. search in the query string syntax of `audit search`
  await page.click('a[data-range="all"]');
  await page.waitForURL(/range=all/);
  await page.fill('#q', 'user.id:alice');
  await page.click('#search-button');
  await page.waitForURL(/q=user.id%3Aalice/);
  const total = Number(await page.textContent('#total'));
  assert.ok(total >= 7, `alice's events: ${total}`);
  await page.waitForSelector('#histogram[data-ready="1"] canvas');
  await shot('02-search');

  step('3. brush the histogram: the range narrows to what was selected');
  // 3. brush the histogram: the range narrows to what was selected
  const over = (await page.$('#histogram .u-over'))!;
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await page.waitForURL(/from=.*&to=/);
  const brushed = new URL(page.url());
  assert.equal(brushed.searchParams.get('q'), 'user.id:alice', 'the query is kept');
  assert.ok(Date.parse(brushed.searchParams.get('to')!) > Date.parse(brushed.searchParams.get('from')!));
  assert.ok(Number(await page.textContent('#total')) <= total);
  await shot('03-brushed');

  step('4. open an event: the refresh');
  // 4. open an event: the refresh
  await page.goto(`${consoleUrl}/search?range=all&q=${encodeURIComponent('user.id:alice AND event.action:token-refreshed')}`);
  await page.click('#results a.event-link');
  await page.waitForURL(/\/event\//);
  const eventId = (await page.textContent('#event-id'))!;
  assert.match((await page.textContent('#fields'))!, /event\.action\s*token-refreshed/);
  await shot('04-event');

  step('5. its session timeline, stepped through to the reuse alert');
  // 5. its session timeline, stepped through to the reuse alert
  const sessionLink = (await page.$('#timeline-session')) ?? (await page.$('#timeline-family'));
  assert.ok(sessionLink, 'the event links to its session (or family) timeline');
  await sessionLink.click();
  await page.waitForURL(/\/timeline\?/);
  // a recording: a step forward, a step back, then straight to the next alert
  const first = await page.textContent('#step-position');
  await Promise.all([page.waitForURL(/at=1#step/), page.click('#step-next')]);
  assert.match((await page.textContent('#step-position'))!, /^2 \//);
  await Promise.all([page.waitForURL(/at=0#step/), page.click('#step-prev')]);
  assert.equal(await page.textContent('#step-position'), first);
  await Promise.all([page.waitForURL(/at=\d+#step/), page.click('#step-next-alert')]);
  assert.match((await page.textContent('#step-action'))!, /ALERT refresh-token-reuse/);
  await shot('05-timeline-alert');
  // the family chain marks the reuse
  await page.goto(`${consoleUrl}/alerts?rule=refresh-token-reuse`);
  await shot('06-alerts');
  await page.click('a.alert-timeline');
  await page.waitForURL(/\/timeline\?family=/);
  assert.match((await page.textContent('#chain'))!, /REUSE/);
  await page.click('#step-next-alert');
  await page.waitForURL(/at=\d+/);
  assert.match((await page.textContent('#step-action'))!, /ALERT refresh-token-reuse/);
  await shot('07-family-chain');

  step("6. download the event's inclusion proof; the CLI checks it offline");
  // 6. download the event's inclusion proof; the CLI checks it offline
  const proofFile = path.join(dir, 'proof.json');
  await until(
    'the event archived',
    async () => {
      await page.goto(`${consoleUrl}/event/${eventId}`);
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 5_000 }), page.click('#proof-link')]);
      if (download.suggestedFilename() !== `proof-${eventId}.json`) return undefined;
      await download.saveAs(proofFile);
      return true;
    },
    30_000,
  );
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  let check: { code: number };
  try {
    check = await runAudit(['archive', 'check-proof', proofFile, '--jwks', jwks]);
  } finally {
    process.stdout.write = write;
  }
  assert.equal(check.code, 0, out.join(''));
  assert.match(out.join(''), new RegExp(`VALID: event ${eventId}`));

  step('7. the integrity page verifies the archive per partition');
  // 7. the integrity page verifies the archive per partition
  await page.goto(`${consoleUrl}/integrity?verify=1`);
  assert.equal(await page.textContent('#verify-state'), 'OK');
  await shot('08-integrity');

  step("8. the console's own reads are in the audit log, masked, enriched and indexed like the rest");
  // 8. the console's own reads are in the audit log, masked, enriched and indexed like the rest
  // an investigator pastes a token into the search box: the access event that records the search is masked like any event
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const pasted = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64({ sub: 'mallory', iss: 'https://idp.test/', exp: 1999999999 })}.${'Qk'.repeat(43)}`;
  await page.goto(`${consoleUrl}/search?range=all&q=${encodeURIComponent(`"${pasted}"`)}`);
  await until('the console access events indexed', async () => {
    await page.goto(`${consoleUrl}/search?range=all&kind=audit-access&subject=auditor`);
    const html = (await page.textContent('#results'))!;
    return /audit-access/.test(html) && Number(await page.textContent('#total')) >= 5 ? true : undefined;
  });
  const accessIndexed = await es.search<Record<string, { attributes?: Record<string, string> }>>({
    index: 'logs-jwt_audit.events-browser',
    size: 200,
    query: { term: { 'event.action': 'audit-access' } },
  });
  const actions = new Set(accessIndexed.hits.hits.map((h) => h._source!.jwt_audit!.attributes!['access.action']));
  for (const a of ['sign-in', 'search', 'event', 'timeline', 'proof'])
    assert.ok(actions.has(a), `an indexed audit.access for ${a}: ${[...actions].join(', ')}`);
  assert.ok(!JSON.stringify(accessIndexed.hits.hits).includes(pasted.split('.')[1]!), 'a token typed into the search box is not indexed');
  const searches = accessIndexed.hits.hits
    .filter((h) => h._source!.jwt_audit!.attributes!['access.action'] === 'search')
    .map((h) => h._source!.jwt_audit!.attributes!['access.query'] ?? '');
  // the masker's keyed hash (or a redaction) stands where the token was
  assert.ok(
    searches.some((q) => /^"(hmac:[A-Za-z0-9_-]+:[0-9a-f]{32}|\[redacted:[a-z0-9_.-]+\])"$/.test(q)),
    `the pasted token is shown masked: ${searches.join(' | ')}`,
  );
  await shot('09-own-access-events');

  step('9. a pending approval is listed and approved with its button (the demo login grants audit:approve)');
  // 9. a request held for approval, as the interceptor records it, decided from the Approvals page
  const approvalId = '0193a005-7c2e-7a31-8f00-3aa0000000b1';
  const requested: ApprovalRecord = {
    approvalId,
    schemaVersion: 1,
    step: 'requested',
    at: Date.now(),
    by: 'alice',
    reason: null,
    request: {
      fingerprint: 'b'.repeat(64),
      requester: 'alice',
      clientId: 'web-portal',
      rule: 'delete-needs-approval',
      route: 'orders',
      method: 'DELETE',
      path: '/api/orders/42',
      mode: 'hold',
      approversRequired: 1,
      decideBy: Date.now() + 3_600_000,
      validSec: 300,
      instance: 'interceptor-browser',
    },
  };
  const approvalsKafka = createKafkaClient(kafkaCfg('approvals-setup'), logger);
  const approvalsProducer = approvalsKafka.producer();
  await approvalsProducer.connect();
  const enc = approvalCodec.encode(requested);
  await approvalsProducer.send({ topic: TOPICS.approvals, acks: -1, messages: [{ key: approvalKey(requested), value: enc.value, headers: enc.headers }] });
  await approvalsProducer.disconnect();
  await page.click('nav a[href="/approvals"]');
  const row = page.locator(`tr[data-approval="${approvalId}"]`);
  assert.match((await row.textContent()) ?? '', /alice.*DELETE \/api\/orders\/42/s);
  await shot('10-approvals');
  await row.locator('button[value="approve"]').click();
  await page.waitForSelector('#notice');
  assert.equal(await page.textContent('#notice'), `approved ${approvalId}`);
  assert.equal(await page.locator(`tr[data-approval="${approvalId}"]`).count(), 0);
  const released = (await readApprovals(approvalsKafka)).get(approvalId, Date.now())!;
  assert.equal(released.status, 'granted');
  assert.deepEqual(released.approvers, ['auditor']);

  step("10. Sessions: alice's session from the sessionizer's summary, its timeline with the summary header");
  await sessionsStep(page, shot, es);

  step("11. replay alice's session to the console's test instance: a dry run, then with the operator's token");
  await replayStep(page, shot, p.auth.url);

  assert.deepEqual(external, [], 'the pages load nothing from outside the console');
  assert.deepEqual(errors, [], 'no script error on any page');
});

/** Sessions (issue #20): the list read from the sessionizer's summaries, a row opening that session's timeline. */
async function sessionsStep(page: Page, shot: (name: string) => Promise<unknown>, es: Client): Promise<void> {
  await until("alice's session summary indexed", async () => {
    await es.indices.refresh({ index: 'audit-sessions-*' });
    const r = await es.count({ index: 'audit-sessions-*', query: { term: { 'user.id': 'alice' } }, ignore_unavailable: true });
    return r.count > 0 ? true : undefined;
  });
  await page.click('nav a[href="/sessions"]');
  await page.waitForURL(/\/sessions/);
  await page.fill('#s-subject', 'alice');
  await Promise.all([page.waitForURL(/subject=alice/), page.click('#sessions-button')]);
  const row = page.locator('#sessions tbody tr').first();
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells.length, 13, 'start, end, duration, subject, client, IPs, requests, routes, bytes, rejections, alerts, approvals, end reason');
  assert.equal(cells[3], 'alice');
  assert.ok(Number(cells[6]) >= 4, `alice's requests: ${cells[6]}`);
  await shot('11-sessions');
  await Promise.all([page.waitForURL(/\/timeline\?summary=/), row.locator('a.session-link').click()]);
  assert.match((await page.textContent('#session-summary'))!, /alice/);
  assert.ok(Number(await page.textContent('#summary-requests')) >= 4);
  const position = (await page.textContent('#step-position'))!;
  assert.ok(Number(position.split('/')[1]) >= 4, `the session's entries: ${position}`);
  await Promise.all([page.waitForURL(/summary=.*at=1#step/), page.click('#step-next')]);
  assert.match((await page.textContent('#step-position'))!, /^2 \//);
  await shot('12-session-timeline');
}

/** Replay (issue #19 item 3) from the session timeline the Sessions step left open: dry run first, then the operator's token. */
async function replayStep(page: Page, shot: (name: string) => Promise<unknown>, idp: string): Promise<void> {
  assert.match((await page.textContent('#replay-form'))!, /Dry run/);
  await Promise.all([page.waitForURL(/\/replay$/), page.click('#replay-dry-run')]);
  assert.match((await page.textContent('#replay-summary'))!, /would be sent, \d+ skipped, \d+ flagged; nothing was sent/);
  const wouldSend = await page.locator('#replay-rows tr[data-result="dry-run"]').count();
  assert.ok(wouldSend >= 4, `alice's GET /api/orders requests: ${wouldSend}`);
  await shot('13-replay-dry-run');
  // the operator's own token for the test instance, from the IdP (the recorded ones were never stored)
  const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
  const r = await fetch(`${idp}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=alice-pw',
  });
  const token = ((await r.json()) as { access_token: string }).access_token;
  await page.fill('#replay-token', token);
  await Promise.all([page.waitForURL(/\/replay$/), page.click('#replay-run')]);
  assert.equal(await page.locator('#replay-rows tr[data-result="match"]').count(), wouldSend, 'the test instance answers as production did');
  assert.match((await page.textContent('#replay-summary'))!, new RegExp(`${wouldSend} match, 0 differ, 0 failed`));
  assert.ok(!(await page.content()).includes(token), 'the token is not on the page');
  await shot('14-replay-result');
}
