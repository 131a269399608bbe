import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANARY_CORPUS, CANARY_VALUES } from './canary.js';
import { compileNeeds, DETECTORS, scanFeatures, type Detector, type Features } from './detectors.js';
import { createMasker, DEFAULT_POLICY } from './index.js';

const masker = createMasker(DEFAULT_POLICY, { id: 'k1', secret: 'detector-test-key-0123' });

// [detector, text containing a value it must catch, the value, text it must leave alone]; the texts have no
// `key = value` shape, so the detector itself must find the value (a field rule would mask `aws_secret = ...`)
const cases: [string, string, string, string][] = [
  ['private-key', 'key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n', 'MIIEvQIBADANBg', '-----BEGIN PUBLIC KEY----- abc'],
  ['jwt', 'tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig_nature-x end', 'eyJzdWIiOiIxMjMifQ', 'eyJ alone is not a token'],
  ['bearer-token', 'sent Bearer abcdef123456.xyz', 'abcdef123456.xyz', 'the bearer of bad news'],
  ['aws-access-key', 'id AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE', 'AKIA short'],
  [
    'aws-secret-key',
    'the aws secret access key is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY for prod',
    'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'plain 40 chars wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY without context',
  ],
  ['gcp-api-key', 'k=AIzaSyA-1234567890abcdefghijklmnopqrstu', 'AIzaSyA-1234567890abcdefghijklmnopqrstu', 'AIza too short'],
  ['azure-storage-key', `AccountKey=${'A'.repeat(86)}==;`, 'A'.repeat(86), 'AccountName=devstoreaccount1;'],
  ['azure-storage-key', 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2hvcnRrZXk=;EndpointSuffix=core.windows.net', 'c2hvcnRrZXk=', 'AccountKey='],
  ['npm-token', `ci publishes with npm_${'aB3'.repeat(12)} nightly`, `npm_${'aB3'.repeat(12)}`, 'npm_short'],
  ['gitlab-token', `glpat-${'x1Y2'.repeat(5)}`, `glpat-${'x1Y2'.repeat(5)}`, 'glpat-short'],
  [
    'jwe',
    'eyJhbGciOiJSU0EtT0FFUCJ9.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jvQRb.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ',
    'OKOawDo13gRp2ojaHV7',
    'eyJhbGciOiJSU0EtT0FFUCJ9 alone',
  ],
  ['github-token', `ghp_${'a1'.repeat(18)}`, `ghp_${'a1'.repeat(18)}`, 'ghp_short'],
  ['slack-token', 'xoxb-123456789012-abcdef', 'xoxb-123456789012-abcdef', 'xox nothing'],
  ['stripe-key', 'sk_live_abcdefghijklmnop1234', 'sk_live_abcdefghijklmnop1234', 'sk_live_short'],
  ['url-credentials', 'postgres://app:hunter2pw@db:5432/x', 'hunter2pw', 'https://example.org/a:b@c'],
  ['email', 'from alice@example.com today', 'alice@example.com', 'not@an address'],
  ['iban', 'pay DE89 3704 0044 0532 0130 00 now', '3704 0044 0532', 'GB82 WEST 1234 5698 7654 33'],
  ['credit-card', 'card 378282246310005 ok', '378282246310005', 'card 378282246310006 ok'],
  ['us-ssn', 'ssn is 123-45-6789.', '123-45-6789', 'not 000-12-3456 nor 666-12-3456'],
  ['phone', 'call +44 20 7946 0958 or (415) 555-2671', '555-2671', 'build 2026.11.23'],
];

for (const [name, text, secret, clean] of cases) {
  test(`detector ${name}: finds the value in free text and leaves look-alikes alone`, () => {
    const hit = masker.maskText(text);
    assert.ok(!hit.text.includes(secret), `${name} left ${secret} in ${hit.text}`);
    assert.ok(
      hit.rules.some((r) => r.startsWith(`detector:${name}:`)),
      `${name} itself found it: rules ${hit.rules.join(',')}`,
    );
    const miss = masker.maskText(clean);
    assert.equal(miss.text, clean, `${name} changed ${clean}`);
  });
}

test('epoch-ms timestamps and ids are not taken for card numbers', () => {
  for (const t of ['1795166104000', '1700000000005', '1234567890123456']) assert.equal(masker.maskText(`at ${t}`).text, `at ${t}`);
});

test('hostile 64 KiB inputs (backtracking bait for every detector) are masked in well under a second each', () => {
  const N = 64 * 1024;
  const bait: Record<string, string> = {
    emailDomain: 'a@' + 'a-'.repeat(N / 2),
    emailDots: 'a@' + 'a.'.repeat(N / 2),
    urlNoAt: 'x://' + 'a'.repeat(N / 2) + ':' + 'b'.repeat(N / 2),
    kvOpenQuotes: 'password="'.repeat(N / 10),
    jwt: 'eyJaaaaa.'.repeat(N / 9),
    iban: 'GB82' + ' AAAA'.repeat(N / 5),
    digits: '4'.repeat(N),
    digitGroups: '4111 '.repeat(N / 5),
    phone: '(415) '.repeat(N / 6),
    pem: '-----BEGIN RSA PRIVATE KEY-----' + 'x'.repeat(N),
    bearer: 'Bearer '.repeat(N / 7),
    awsSecret: 'aws secret '.repeat(N / 11),
  };
  for (const [name, text] of Object.entries(bait)) {
    const t = performance.now();
    masker.maskText(text);
    // linear scans take milliseconds; the quadratic email pattern this replaced took ~5 s here
    assert.ok(performance.now() - t < 1_000, `${name} took ${Math.round(performance.now() - t)} ms`);
  }
});

/**
 * A detector's `needs` (minimums of run length, digits, `@`, `=` ... on the text) let a text skip
 * the detector unscanned, so they must hold for every text the pattern finds a match in, however
 * short. Every match found in the corpus, the cases above and generated variants is taken with
 * the text around it (lookbehinds such as `sig=` and lookaheads such as `@` are outside the
 * match), then that text is shrunk one character at a time while the detector still matches it,
 * down to a near-minimal one; the needs must hold for each text on the way.
 */
test('detector needs hold for every text a detector matches, down to the shortest it accepts', () => {
  const compiled = compileNeeds(DETECTORS.map((d) => d.needs));
  const samples = [...CANARY_CORPUS.map((c) => c.plant), ...CANARY_VALUES, ...cases.map((c) => c[1])];
  // generated variants: each sample with some digits and letters changed, and cut at random points
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (const s of [...samples]) {
    for (let v = 0; v < 4; v++) {
      const chars = [...s].map((c) =>
        rand(4) === 0
          ? /\d/.test(c)
            ? String(rand(10))
            : /[a-z]/.test(c)
              ? 'abcdefghijklmnopqrstuvwxyz'[rand(26)]!
              : /[A-Z]/.test(c)
                ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[rand(26)]!
                : c
          : c,
      );
      samples.push(chars.join(''), s.slice(rand(s.length)), s.slice(0, s.length - rand(s.length)));
    }
  }
  const found = (d: Detector, s: string) => [...s.matchAll(new RegExp(d.pattern.source, d.pattern.flags))].filter((m) => !d.valid || d.valid(m[0]));
  const failures: string[] = [];
  let checked = 0;
  DETECTORS.forEach((d, i) => {
    let n = 0;
    for (const sample of samples) {
      for (const m of found(d, sample)) {
        n++;
        // the match with up to 64 characters either side (every lookaround here is shorter), or the whole sample
        const window = sample.slice(Math.max(0, m.index - 64), m.index + m[0].length + 64);
        let cur = found(d, window).length > 0 ? window : sample;
        for (let shrunk = true; shrunk; ) {
          checked++;
          if (!compiled.one(scanFeatures(cur), i)) failures.push(`${d.name}: needs ${JSON.stringify(d.needs)} fail on ${JSON.stringify(cur)}`);
          shrunk = false;
          for (let at = 0; at < cur.length && cur.length > 1; at++) {
            const next = cur.slice(0, at) + cur.slice(at + 1);
            if (found(d, next).length > 0) {
              cur = next;
              shrunk = true;
              break;
            }
          }
        }
      }
    }
    assert.ok(n > 0, `${d.name}: no sample matches, its needs are untested`);
  });
  assert.deepEqual(failures.slice(0, 20), []);
  assert.ok(checked > 1000);
});

test('the features of a text only grow with the text around it (what makes checking needs on a match enough)', () => {
  const samples = [...CANARY_CORPUS.map((c) => c.plant), ...cases.map((c) => c[1])];
  const grows = (a: Features, b: Features) =>
    b.digits >= a.digits &&
    b.upperOrDigit >= a.upperOrDigit &&
    b.run >= a.run &&
    (!a.at || b.at) &&
    (!a.eq || b.eq) &&
    (!a.colon || b.colon) &&
    (!a.percent || b.percent) &&
    (!a.space || b.space);
  for (const s of samples) {
    for (let cut = 0; cut < s.length; cut += 3) {
      const inner = { ...scanFeatures(s.slice(cut, cut + 40)) };
      const outer = { ...scanFeatures(`x${s}\u00a0 y`) };
      assert.ok(grows(inner, outer), `${JSON.stringify(s)} at ${cut}`);
    }
  }
});

test('compiled needs: any() answers as every row asked in turn, on generated features and generated rows', () => {
  let seed = 11;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const features = (): Features => ({
    digits: rand(30),
    upperOrDigit: rand(40),
    run: rand(70),
    at: rand(2) === 0,
    eq: rand(2) === 0,
    colon: rand(2) === 0,
    percent: rand(2) === 0,
    space: rand(2) === 0,
  });
  const meets = (f: Features, n: (typeof DETECTORS)[number]['needs']) =>
    f.run >= (n.run ?? 0) &&
    f.digits >= (n.digits ?? 0) &&
    f.upperOrDigit >= (n.upperOrDigit ?? 0) &&
    (!n.at || f.at) &&
    (!n.eq || f.eq) &&
    (!n.colon || f.colon) &&
    (!n.space || f.space);
  const generatedRows = () =>
    Array.from({ length: 1 + rand(12) }, () => ({
      ...(rand(2) ? { run: rand(60) } : {}),
      ...(rand(3) ? {} : { digits: rand(20) }),
      ...(rand(3) ? {} : { upperOrDigit: rand(30) }),
      ...(rand(4) ? {} : { at: true as const }),
      ...(rand(4) ? {} : { eq: true as const }),
      ...(rand(5) ? {} : { colon: true as const }),
      ...(rand(4) ? {} : { space: true as const }),
    }));
  const sets = [DETECTORS.map((d) => d.needs), ...Array.from({ length: 300 }, generatedRows)];
  let met = 0;
  for (const rows of sets) {
    const compiled = compileNeeds(rows);
    for (let k = 0; k < 200; k++) {
      const f = features();
      const want = rows.some((n) => meets(f, n));
      assert.equal(compiled.any(f), want, JSON.stringify({ rows, f }));
      rows.forEach((n, i) => assert.equal(compiled.one(f, i), meets(f, n)));
      if (want) met++;
    }
  }
  assert.ok(met > 1_000 && met < 300 * 200, `rows met ${met} times`); // both answers reached
});
