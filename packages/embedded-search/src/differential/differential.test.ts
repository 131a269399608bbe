// Replays the recorded corpus (cases/*.json, answers of a real Elasticsearch) against the embedded
// node on port 0 and compares every answer (compare.ts). A difference must be listed in
// known-differences.json with its reason; a listed difference that no longer occurs fails too, so
// the list stays true. DIFF_WRITE_KNOWN=1 rewrites the list from this run (keeping reasons written by hand).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startSearchNode, type SearchNode } from '../server.js';
import { capture, firstDifference, kindOf, normalize, send, substitute } from './compare.js';
import type { DiffSuite, KnownDifference } from './format.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const casesDir = path.join(here, 'cases');
const knownFile = path.join(here, 'known-differences.json');
const suites: DiffSuite[] = readdirSync(casesDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(casesDir, f), 'utf8')) as DiffSuite);
const known = new Map((JSON.parse(readFileSync(knownFile, 'utf8')) as KnownDifference[]).map((k) => [k.id, k]));

let node: SearchNode;
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'differential-'));
  node = await startSearchNode({ dir, port: 0 });
});
after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test('every recorded case answers on the embedded node as on Elasticsearch, or is a known difference', async () => {
  const found: KnownDifference[] = [];
  const unexpected: string[] = [];
  const disappeared: string[] = [];
  let total = 0;
  for (const suite of suites) {
    for (const c of suite.cases) {
      total++;
      assert.ok(c.recorded && c.recorded.length === c.requests.length, `case ${c.id} is not recorded: run npm run record`);
      let diff: ReturnType<typeof firstDifference>;
      const vars = new Map<string, string>();
      for (const [i, req] of c.requests.entries()) {
        const actual = await send(node.url, substitute(req, vars));
        capture(req, actual, vars);
        const d = firstDifference(normalize(req, c.recorded[i]!), normalize(req, actual));
        if (d && !diff) diff = d;
      }
      const k = known.get(c.id);
      if (diff) {
        const kind = kindOf(diff.path, diff.expected, diff.actual);
        const auto = `${diff.path}: Elasticsearch ${JSON.stringify(diff.expected)?.slice(0, 120)}, embedded ${JSON.stringify(diff.actual)?.slice(0, 120)}`;
        found.push({ id: c.id, kind: k?.kind ?? kind, reason: k?.reason ?? auto, observed: auto });
        if (!k) unexpected.push(`${c.id}: ${auto}`);
      } else if (k) {
        disappeared.push(c.id);
      }
    }
  }
  if (process.env.DIFF_WRITE_KNOWN === '1') writeFileSync(knownFile, JSON.stringify(found, null, 1) + '\n');
  const byKind: Record<string, number> = {};
  for (const f of found) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  process.stderr.write(`differential corpus: ${total} cases, ${total - found.length} agree, ${found.length} known differences ${JSON.stringify(byKind)}\n`);
  // both lists at once: a fix that removes a listed difference and a new one show in one run
  assert.deepEqual(
    { unexpected, disappeared },
    { unexpected: [], disappeared: [] },
    'unexpected: new differences from Elasticsearch (fix the node or list them in known-differences.json with the reason); disappeared: listed differences that no longer occur (remove them)',
  );
});
