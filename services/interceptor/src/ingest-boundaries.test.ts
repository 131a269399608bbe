import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { signIngestBody } from './ingest.js';
import { rng } from '@jwt-audit/runtime/testing/prng';
import { startStack, waitFor } from './testdata/harness.js';

/**
 * The ingest API's promise at its value boundaries: every body is either refused with 400 naming
 * the field, or accepted with 202 and then every id it returned is an event on audit.raw.v1.
 * Values the JSON schema's formats admit but the event model cannot hold (a leap second, an
 * hour-only offset, a timestamp beyond year 9999) must be refused, never accepted and dropped, or
 * answered 500.
 */
const SECRET = 'ingest-secret-of-at-least-32-bytes-long';
let stack: Awaited<ReturnType<typeof startStack>>;

before(async () => {
  stack = await startStack({
    name: 'ingest-boundaries',
    routes: [{ path: '/', upstream: 'api', auth: 'none' }],
    config: {
      ingest: {
        enabled: true,
        path: '/audit/v1/events',
        hmacKeys: [{ id: 'idp', secret: SECRET }],
        maxBodyBytes: 65_536,
        maxSkewSec: 300,
        replayCacheSize: 10_000,
      },
    },
  });
});
after(() => stack.stop());

const post = async (body: string) => {
  const res = await fetch(`${stack.url}/audit/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-audit-signature': signIngestBody(SECRET, body), 'x-audit-key-id': 'idp' },
    body,
  });
  return { status: res.status, body: (await res.json()) as { ids?: string[]; errors?: Array<{ field: string }> } };
};

type Rng = ReturnType<typeof rng>;
const between = (r: Rng, lo: number, hi: number) => lo + r.int(hi - lo + 1);
const hex = (r: Rng, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[r.int(16)]).join('');
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A date-time the ajv format admits, drawn around the edges of what a Date can represent. */
function dateTime(r: Rng): { text: string; representable: boolean } {
  const year = r.pick([1970, 2026, 2026, 2026, 9999, 1]);
  const month = between(r, 1, 12);
  const day = between(r, 1, 28);
  const hour = between(r, 0, 23);
  const minute = between(r, 0, 59);
  const leap = r.next() < 0.3;
  const second = leap ? 60 : between(r, 0, 59);
  const frac = r.next() < 0.4 ? `.${pad(between(r, 0, 999), 3)}` : '';
  const offset = r.pick([
    'Z',
    'z',
    '+00:00',
    `+${pad(between(r, 0, 14))}:${pad(r.pick([0, 30, 45]))}`,
    `-${pad(between(r, 0, 12))}:00`,
    `+${pad(between(r, 0, 14))}`,
    `-${pad(between(r, 0, 12))}`,
  ]);
  const sep = r.pick(['T', 't', ' ']);
  const text = `${pad(year, 4)}-${pad(month)}-${pad(day)}${sep}${pad(hour)}:${pad(minute)}:${pad(second)}${frac}${offset}`;
  return { text, representable: Number.isFinite(Date.parse(text)) };
}

/** Unix seconds for iat/nbf/exp: ordinary ones, and ones no timestamp can hold. */
function unixSeconds(r: Rng): number {
  return r.pick([
    () => 1_767_225_600 + between(r, 0, 86_400),
    () => 253_402_300_799, // 9999-12-31T23:59:59Z, the last accepted
    () => 253_402_300_800,
    () => 2 ** 53 - 1,
    () => 1e20,
    () => 1e300,
    () => 0,
  ])();
}

it('every generated body is either 400 naming the field, or 202 with each returned id on audit.raw.v1', async () => {
  const r = rng(41);
  const accepted: string[] = [];
  let refusedTime = 0;
  let refusedClaims = 0;
  for (let i = 0; i < 160; i++) {
    const when = dateTime(r);
    const claims: Record<string, number> = { iat: 1_767_225_600, nbf: 1_767_225_600, exp: 1_767_229_200 };
    if (r.next() < 0.5) claims[r.pick(['iat', 'nbf', 'exp'])] = unixSeconds(r);
    const type = r.pick(['token.issued', 'token.revoked', 'token.refreshed'] as const);
    const body = JSON.stringify({
      type,
      occurredAt: when.text,
      subject: `user-${i}`,
      token: { fingerprint: hex(r, 64), jti: `jti-${i}`, typ: 'access', ...(type === 'token.refreshed' ? { previousFingerprint: hex(r, 64) } : {}), ...claims },
    });
    const res = await post(body);
    const claimsOk = Object.values(claims).every((s) => s <= 253_402_300_799);
    if (res.status === 202) {
      assert.ok(when.representable && claimsOk, `accepted what no event can hold: ${body}`);
      assert.equal(res.body.ids?.length, 1);
      accepted.push(res.body.ids![0]!);
      continue;
    }
    assert.equal(res.status, 400, `${res.status} for ${body}`);
    const fields = (res.body.errors ?? []).map((e) => e.field);
    if (!when.representable) {
      assert.ok(fields.includes('occurredAt'), `${when.text}: ${fields.join()}`);
      refusedTime++;
    }
    for (const [k, v] of Object.entries(claims)) if (v > 253_402_300_799) assert.ok(fields.includes(`token.${k}`), `${k}=${v}: ${fields.join()}`);
    if (!claimsOk) refusedClaims++;
    assert.ok(!when.representable || !claimsOk, `refused a body it should accept: ${body} ${fields.join()}`);
  }
  assert.ok(accepted.length > 10 && refusedTime > 10 && refusedClaims > 10, `${accepted.length} accepted, ${refusedTime}, ${refusedClaims} refused`);
  await waitFor('every accepted id on audit.raw.v1', () => {
    const seen = new Set(stack.reader.events.map((e) => e.id));
    return accepted.every((id) => seen.has(id));
  });
});
