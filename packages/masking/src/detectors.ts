/**
 * Value detectors: find secrets and personal data inside free text, whatever field they are in.
 * Each has a stable name (used in policies and in `masking.rulesApplied`) and, where a checksum
 * exists (card numbers: Luhn; IBAN: mod 97; US SSN: the issued ranges), validates it to keep false
 * positives down.
 */

export interface Detector {
  name: string;
  pattern: RegExp;
  /** Extra validation of a match (checksums); default: every match counts. */
  valid?: (match: string) => boolean;
  /**
   * A cheap necessary condition: text that fails it cannot contain a match, so the regex is not
   * run. Most strings in an event are short and innocent; this is what keeps masking fast.
   */
  hint: RegExp;
  /**
   * A cheaper necessary condition still, on what one pass over the text counted (`Features`):
   * a text that fails it cannot hold a match, so neither the hint nor the pattern is run. It is
   * what every match of `pattern` (that `valid` accepts) must have, such as the shortest run of
   * token characters a match spans or the fewest digits; detectors.test.ts checks it on
   * every match in generated samples and the corpus.
   */
  needs: Needs;
  /** What `redact` writes instead of `[redacted:<name>]`, where that text would be misread in place. */
  redacted?: string;
}

/**
 * What one pass over a text counts, for the detectors' `needs`: all of it grows (or stays) when
 * text is added, so what a match needs, the text around it has too.
 */
export interface Features {
  /** ASCII digits. */
  digits: number;
  /** A-Z and digits (an IBAN is at least 15 of them). */
  upperOrDigit: number;
  /** The longest run of `[A-Za-z0-9+/=_.~-]`: every token format is one run of at least this. */
  run: number;
  at: boolean;
  eq: boolean;
  colon: boolean;
  percent: boolean;
  /** A character `\s` may match (ASCII white space, or anything outside ASCII: taken as maybe). */
  space: boolean;
}

/** Minimums a text must reach, all of them. */
export interface Needs {
  digits?: number;
  upperOrDigit?: number;
  run?: number;
  at?: true;
  eq?: true;
  colon?: true;
  space?: true;
}

/**
 * Needs as rows of one Int32Array (run, digits, upperOrDigit, at, eq, colon, space; 0 = no
 * need), checked by one loop: a `needs` function or object per detector made the check a
 * megamorphic call or property read per detector, slower than the hint regex it was to skip.
 */
export interface CompiledNeeds {
  /** Whether row `i` (the i-th detector given) is met. */
  one(f: Features, i: number): boolean;
  /** Whether any row is met. */
  any(f: Features): boolean;
}
const WIDTH = 7;
export function compileNeeds(needs: Needs[]): CompiledNeeds {
  const rows = new Int32Array(needs.length * WIDTH);
  needs.forEach((n, i) => rows.set([n.run ?? 0, n.digits ?? 0, n.upperOrDigit ?? 0, n.at ? 1 : 0, n.eq ? 1 : 0, n.colon ? 1 : 0, n.space ? 1 : 0], i * WIDTH));
  const one = (f: Features, i: number): boolean => {
    const o = i * WIDTH;
    return (
      f.run >= rows[o]! &&
      f.digits >= rows[o + 1]! &&
      f.upperOrDigit >= rows[o + 2]! &&
      (rows[o + 3] === 0 || f.at) &&
      (rows[o + 4] === 0 || f.eq) &&
      (rows[o + 5] === 0 || f.colon) &&
      (rows[o + 6] === 0 || f.space)
    );
  };
  // `any` asks only the rows no other row is weaker than: a text that meets a row meets every
  // row weaker than it (each minimum no higher, each flag needed no more), so the rest cannot
  // change the answer. The default detectors' 23 rows come down to 6 (the loop ran on nearly
  // every string of an event). detectors.test.ts compares it with every row asked in turn.
  const weaker = (a: number, b: number): boolean => {
    for (let k = 0; k < WIDTH; k++) if (rows[a * WIDTH + k]! > rows[b * WIDTH + k]!) return false;
    return true;
  };
  const kept: number[] = [];
  for (let i = 0; i < needs.length; i++) {
    // dropped when another row is weaker, the first of equal rows kept
    let dominated = false;
    for (let j = 0; j < needs.length && !dominated; j++) if (j !== i && weaker(j, i) && (!weaker(i, j) || j < i)) dominated = true;
    if (!dominated) kept.push(i);
  }
  const anyRows = Int32Array.from(kept);
  return {
    one,
    any(f) {
      for (let i = 0; i < anyRows.length; i++) if (one(f, anyRows[i]!)) return true;
      return false;
    },
  };
}

const RUN = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.~-') RUN[c.charCodeAt(0)] = 1;

/**
 * One pass of char codes, no allocation (the object is reused: read it before the next call).
 * Most strings of an event are short identifiers, names and words, and this is what lets them
 * skip the detectors' hint regex (one alternation of 22 hints cost ~350 ns a string, measured).
 */
const features: Features = { digits: 0, upperOrDigit: 0, run: 0, at: false, eq: false, colon: false, percent: false, space: false };
export function scanFeatures(s: string): Features {
  let digits = 0;
  let upper = 0;
  let run = 0;
  let longest = 0;
  let at = false;
  let eq = false;
  let colon = false;
  let percent = false;
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 && RUN[c] === 1) {
      if (++run > longest) longest = run;
      if (c >= 48 && c <= 57) {
        digits++;
        upper++;
      } else if (c >= 65 && c <= 90) upper++;
      else if (c === 61) eq = true;
      continue;
    }
    run = 0;
    if (c === 64) at = true;
    else if (c === 58) colon = true;
    else if (c === 37) percent = true;
    else if (c <= 32 || c >= 128) space = true;
  }
  features.digits = digits;
  features.upperOrDigit = upper;
  features.run = longest;
  features.at = at;
  features.eq = eq;
  features.colon = colon;
  features.percent = percent;
  features.space = space;
  return features;
}

const has = (...needles: string[]) => new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'));
const hasI = (re: RegExp) => re;
// the digit-shaped detectors run on nearly every string (ids, versions, paths), so each gets the
// cheapest shape its matches must contain
// (a card match starts with [3-6] and three digits, then a group of at least three digits: a
// plain four-digit run in an id or a path is not enough to run the detectors)
const cardHint = /[3-6]\d{3}[ -]?\d{3}/;
const ssnHint = /\d{3}-\d{2}-/;
const phoneHint = /\d{3}\)?[ .-]\d{3}[ .-]\d|\+\d{10}/;

export function luhn(digits: string): boolean {
  const d = digits.replace(/\D/g, '');
  if (d.length < 13 || d.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let n = Number(d[d.length - 1 - i]);
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
}

export function ibanValid(raw: string): boolean {
  const s = raw.replace(/\s/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const moved = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const v = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of v) rem = (rem * 10 + Number(digit)) % 97;
  }
  return rem === 1;
}

function ssnValid(s: string): boolean {
  const [a, b, c] = s.split('-');
  return a !== '000' && a !== '666' && !a!.startsWith('9') && b !== '00' && c !== '0000';
}

/**
 * Order matters: specific token formats before the generic ones that would also match them.
 * The token formats follow the rules of secretlint's recommended preset
 * (@secretlint/secretlint-rule-preset-recommend 13.1.0, MIT), which the tests use as an oracle
 * (detectors.test.ts: everything it finds in the samples, these find too).
 */
export const DETECTORS: Detector[] = [
  // every PEM or OpenSSH private key kind (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ... BLOCK); a block
  // cut by the capture cap (no END line) is masked to the end of the text
  {
    name: 'private-key',
    pattern: /-----BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----|$)/g,
    needs: { space: true, run: 10, upperOrDigit: 15 },
    hint: has('PRIVATE KEY'),
  },
  // JWE (five segments) before JWS (three): the JWS pattern would take the first three of five
  {
    name: 'jwe',
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
    needs: { run: 36 },
    hint: has('eyJ'),
  },
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, needs: { run: 18 }, hint: has('eyJ') },
  {
    name: 'bearer-token',
    pattern: /\b(?:Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
    needs: { space: true, run: 8 },
    hint: hasI(/bearer|basic|token|digest/i),
  },
  {
    name: 'aws-access-key',
    pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|A3T[A-Z0-9])[0-9A-Z]{16}\b/g,
    needs: { run: 20, upperOrDigit: 20 },
    hint: hasI(/A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA|3T)/),
  },
  // 40 characters of base64 after a name saying what it is (aws_secret_access_key, SecretAccessKey,
  // "aws secret": the value alone cannot be told from any other 40 characters)
  {
    name: 'aws-secret-key',
    pattern: /(?<=(?:aws.{0,20}?secret|secret.?access.?key).{0,20}?[=:"'\s])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/gi,
    needs: { run: 40 },
    hint: hasI(/aws|access.?key/i),
  },
  { name: 'gcp-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g, needs: { run: 39 }, hint: has('AIza') },
  // by keyword, whatever the key's length: AccountKey=, SharedAccessKey=, SharedAccessSignature=, a SAS sig=
  {
    name: 'azure-storage-key',
    pattern: /\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|AccessKey)=[^;\s"'&]{4,}|(?<=[?&;]sig=)[A-Za-z0-9%+/=]{8,}/gi,
    needs: { eq: true },
    hint: hasI(/accountkey=|sharedaccess|accesskey=|sig=/i),
  },
  {
    name: 'github-token',
    pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g,
    needs: { run: 33 },
    hint: has('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'),
  },
  {
    name: 'gitlab-token',
    pattern: /\bgl(?:pat|dt|rt|ptt|cbt|imt|oas|ffct|ft|soat|sat|agent)-[A-Za-z0-9_-]{20,255}/g,
    needs: { run: 25 },
    hint: hasI(/gl[a-z]{1,5}-/),
  },
  { name: 'npm-token', pattern: /\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g, needs: { run: 40 }, hint: has('npm_') },
  { name: 'pypi-token', pattern: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{16,}/g, needs: { run: 36 }, hint: has('pypi-') },
  { name: 'rubygems-token', pattern: /\brubygems_[a-f0-9]{48}(?![a-f0-9])/g, needs: { run: 57 }, hint: has('rubygems_') },
  {
    name: 'slack-token',
    pattern: /\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}|https:\/\/hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9_/-]{10,}/g,
    needs: { run: 15 },
    hint: hasI(/xox|xapp-|hooks\.slack/),
  },
  {
    name: 'stripe-key',
    pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{20,}/g,
    needs: { run: 18 },
    hint: has('sk_live_', 'sk_test_', 'rk_live_', 'rk_test_', 'whsec_'),
  },
  // other vendors' prefixed tokens from the same corpus (OpenAI, Anthropic, SendGrid, Shopify,
  // Hugging Face, Linear, Grafana, Databricks, HashiCorp Vault, 1Password, Notion, Figma, Groq, Docker Hub)
  {
    name: 'vendor-token',
    pattern:
      /\b(?:sk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|hf_[A-Za-z0-9]{34,}|lin_(?:api|oauth)_[A-Za-z0-9]{40}|gl(?:sa|c)_[A-Za-z0-9_+/=-]{32,}|dapi[a-f0-9]{32}|hv[sbr]\.[A-Za-z0-9_-]{24,}|ops_[A-Za-z0-9_-]{40,}|(?:secret|ntn)_[A-Za-z0-9]{43,46}|fig[dhu]_[A-Za-z0-9_-]{30,}|gsk_[A-Za-z0-9]{48,}|dckr_pat_[A-Za-z0-9_-]{27,})/g,
    needs: { run: 27 },
    hint: hasI(/sk-|sg\.|shp|hf_|lin_|glsa_|glc_|dapi|hv[sbr]\.|ops_|secret_|ntn_|fig[dhu]_|gsk_|dckr_/i),
  },
  // the userinfo of scheme://user:password@host (DSNs and URLs of every scheme), user and password
  // together: a user name left before a redacted password still reads as a connection string to
  // secret scanners, and is often personal
  // together (redacted as `REDACTED`: `[redacted:...]` has a colon, and `scheme://[redacted:x]@host`
  // would read as a user `[redacted` with a password)
  {
    name: 'url-credentials',
    pattern: /(?<=[a-z][a-z0-9+.-]*:\/\/)[^\s:/@]*:[^\s@/]+(?=@)/gi,
    needs: { at: true, colon: true },
    hint: has('://'),
    redacted: 'REDACTED',
  },
  // Bounded parts (local <= 64, labels <= 63 without dots, <= 10 labels): the unbounded
  // `[A-Za-z0-9.-]+\.` form took seconds on 64 KiB of "a-a-a-..." after an @ (backtracking).
  {
    name: 'email',
    pattern: /\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}[A-Za-z]{2,24}\b/g,
    needs: { at: true },
    hint: has('@'),
  },
  {
    name: 'iban',
    pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g,
    valid: ibanValid,
    needs: { upperOrDigit: 15 },
    hint: hasI(/[A-Z]{2}\d{2}/),
  },
  // Issuer prefixes 3-6 only: a 13-digit epoch-ms timestamp starts with 1 and would pass Luhn one
  // time in ten. Printed as 13-19 digits, whole or in groups (4-4-4-4, Amex 4-6-5); Luhn checks the length.
  { name: 'credit-card', pattern: /\b[3-6]\d{3}(?:[ -]?\d{3,6}){1,4}\b/g, valid: luhn, needs: { digits: 13 }, hint: cardHint },
  { name: 'us-ssn', pattern: /\b\d{3}-\d{2}-\d{4}\b/g, valid: ssnValid, needs: { digits: 9 }, hint: ssnHint },
  { name: 'phone', pattern: /(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b|\+\d{10,14}\b/g, needs: { digits: 10 }, hint: phoneHint },
];

export const DETECTOR_NAMES: string[] = DETECTORS.map((d) => d.name);

/**
 * One case-insensitive alternation of every hint: a string it does not match (most strings) skips
 * all detectors after a single scan. Case-insensitive makes it a superset, so still a necessary
 * condition.
 */
export function anyHint(detectors: Detector[]): RegExp {
  return new RegExp(detectors.map((d) => `(?:${d.hint.source})`).join('|') || '(?!)', 'i');
}
