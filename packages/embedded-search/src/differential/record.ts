/**
 * Records the corpus: runs every generated case against a real Elasticsearch and writes its
 * answers into cases/<suite>.json. `AUDIT_TEST_ES_URL=http://127.0.0.1:39200 npm run record -w packages/embedded-search`
 * (../shared/real-elasticsearch.sh start gives one). Not run by npm test: the test replays.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture, send, substitute } from './compare.js';
import { suites } from './generate-cases.js';

const url = process.env.AUDIT_TEST_ES_URL;
if (!url) {
  process.stderr.write('AUDIT_TEST_ES_URL is required (the real Elasticsearch to record from)\n');
  process.exit(2);
}
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cases');
mkdirSync(dir, { recursive: true });
const root = (await send(url, { method: 'GET', path: '/' })).body as { version?: { number?: string } };
const version = root.version?.number ?? 'unknown';
for (const suite of suites()) {
  for (const req of suite.cleanup) await send(url, req);
  for (const c of suite.cases) {
    c.recorded = [];
    const vars = new Map<string, string>();
    for (const req of c.requests) {
      const res = await send(url, substitute(req, vars));
      capture(req, res, vars);
      c.recorded.push(res);
    }
  }
  suite.recordedFrom = version;
  writeFileSync(path.join(dir, `${suite.suite}.json`), JSON.stringify(suite, null, 1) + '\n');
  process.stdout.write(`${suite.suite}: ${suite.cases.length} cases recorded from Elasticsearch ${version}\n`);
}
