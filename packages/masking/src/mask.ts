/**
 * mask(event) -> the same event with secrets and personal data replaced, and the rules applied
 * recorded in `event.masking`. Every string field of the event has a treatment (event-fields.ts,
 * tabled in the README):
 *   free text        `key=value` / `"key": "value"` pairs whose key has a sensitive word, then the
 *                    detectors, then once more on base64 / base64url / percent-encoded runs decoded
 *   headers          names and values: policy.headers and key words by name, shapes for Host,
 *                    X-Request-Id, X-Forwarded-For, Forwarded, Content-Type, traceparent; every
 *                    other value as free text; a header name that is not a token is fingerprinted
 *   query string     parameters by name (key words), values and names as free text
 *   bodies           by media type (parsed, RFC 9110): JSON at any depth (member names too; too deep
 *                    or cut by the capture cap: the loose scanner), form-urlencoded, multipart with a
 *                    valid boundary (preamble, part headers, parts, epilogue), other text; a body in
 *                    a charset other than UTF-8/ASCII/Latin-1, with NULs, of a non-text type or with
 *                    an unparseable type is never kept (size + sha256 only)
 *   identifiers      a strict shape (shapes.ts) and no detector may fire on them; otherwise a keyed
 *                    fingerprint, flagged `shape:<field>:hash`. Claims of a token whose signature did
 *                    not verify are attacker input: jti, sid and familyId are always fingerprinted.
 * Actions: redact -> `[redacted:<rule>]`; hash -> `hmac:<key id>:<32 hex>` (keyed HMAC-SHA256:
 * stable for one key, so a value correlates across events without being revealed; a new key id
 * gives new pseudonyms); partial -> `****` + the last characters; drop -> removed.
 */
import { createHash } from 'node:crypto';
import { EVENT_KINDS, type AuditEvent, type Body, type TokenInfo } from '@jwt-audit/events';
import { RUNTIME_ERRORS } from '@jwt-audit/runtime';
import { Applied } from './applied.js';
import { mapFormPairs } from './form-pairs.js';
import { anyHint, compileNeeds, DETECTORS, scanFeatures } from './detectors.js';
import { EVENT_FIELDS, KNOWN_ATTRIBUTES } from './event-fields.js';
import { JsonDepthError, JsonSyntaxError, maskJson } from './json-body.js';
import { compileKeyWords } from './key-words.js';
import { activeKey, pseudonymizer, type MaskingKey, type MaskingKeys } from './keys.js';
import { maskLooseJson } from './loose-json.js';
import { charsetReadable, isJsonType, looksBinary, parseMediaType, typeListed, validBoundary } from './media-type.js';
import type { Action, MaskingPolicy } from './policy.js';
import { SHAPES, type ShapeName } from './shapes.js';

interface Ctx {
  applied: Applied;
}

/** The interceptor's fingerprints of secret headers (one per value of a repeated header). */
const FINGERPRINT = /^sha256:[0-9a-f]{64}(?:, sha256:[0-9a-f]{64})*$/;
/** What this engine writes: masking an already-masked value again would change nothing useful. */
const ALREADY_MASKED = /^(?:\[redacted:[a-z0-9_.-]+\]|hmac:[A-Za-z0-9_-]+:[0-9a-f]{32})$/;
/** ALREADY_MASKED, asked of nearly every value: its first character rules out most without the regex. */
const alreadyMasked = (v: string): boolean => {
  const c = v.charCodeAt(0);
  return (c === 91 || c === 104) && ALREADY_MASKED.test(v);
};
/** A detector's match that is already a mask (left as it is). */
const MASKED_MATCH = /^\[redacted:|^hmac:[a-z0-9-]+:[0-9a-f]{32}$/;
/** A partial mask is only recognised as such for a partial rule: `****abcd` may well be a password. */
const ALREADY_PARTIAL = /^\*{4}[A-Za-z0-9]{0,8}$/;
const KV = /(["']?)([A-Za-z_][A-Za-z0-9_.-]{0,40})\1(\s*[:=]\s*)(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s&,;"'}{]+))/g;
/** Runs that may be base64 / base64url text: decoded once for detection. */
const B64_RUN = /[A-Za-z0-9+/_-]{24,}={0,2}/g;
const B64_HINT = /[A-Za-z0-9+/_-]{24}/;
/** Runs holding percent-escapes. */
const PCT_RUN = /[^\s"<>]*%[0-9A-Fa-f]{2}[^\s"<>]*/g;
/** Rejections decided before (or without) a verified signature: the claims are whatever was sent. */
const UNVERIFIED_REASONS = new Set(['malformed', 'bad_signature', 'alg_not_allowed', 'unknown_kid']);
const KINDS = new Set<string>(EVENT_KINDS);
/** The JWS algorithms of the IANA JOSE registry: what an unverified token's alg may say and be kept. */
const JOSE_ALGS = new Set([
  'none',
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'ES256K',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
  'Ed25519',
  'Ed448',
]);
const CLOSED_SHAPES = new Set<ShapeName>(['uuid', 'hex64', 'traceparent', 'traceId', 'ip', 'forwardedEntry', 'method', 'scheme']);

/**
 * One rule as it is applied: its action, the entry it adds to `masking.rulesApplied` and its
 * redaction text, built once per field, header or detector name rather than once per value.
 */
interface Rule {
  action: Action;
  applied: string;
  redacted: string;
}
const makeRule = (kind: string, name: string, action: Action): Rule => {
  const rule = `${kind}:${name}`;
  return { action, applied: `${rule}:${action}`, redacted: `[redacted:${rule.split(':').pop()}]` };
};
/** A name as it may appear in a rule id: a word of the vocabulary, or `other` (names come from outside). */
const ruleName = (name: string) => (/^[a-z0-9_.-]{1,40}$/.test(name) ? name : 'other');

/**
 * A name or value encoded as URLSearchParams writes it (the WHATWG urlencoded serializer: only
 * `*-._` and alphanumerics kept, space as `+`), without building a URLSearchParams per pair.
 * `encodeURIComponent` keeps `!'()~` too, so those are escaped after it; a lone surrogate
 * (which it refuses) goes through URLSearchParams, which writes U+FFFD for it.
 */
export const formEncode = (x: string): string => {
  // most names and values need no escape at all (measured: the two replaces below were a few % of
  // masking a query string); the same output either way (mask.test.ts compares with URLSearchParams)
  if (FORM_PLAIN.test(x)) return x;
  let e: string;
  try {
    e = encodeURIComponent(x);
  } catch {
    return new URLSearchParams([['', x]]).toString().slice(1);
  }
  if (e.includes('%20')) e = e.replace(/%20/g, '+');
  return FORM_KEPT_BY_URI.test(e) ? e.replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : e;
};
/** What the urlencoded serializer writes as it is. */
const FORM_PLAIN = /^[A-Za-z0-9*._-]*$/;
/** What encodeURIComponent keeps and the urlencoded serializer escapes. */
const FORM_KEPT_BY_URI = /[!'()~]/;

/**
 * `memo: false` turns off the memos of per-value verdicts (shapes, header names, JSON member names, media types)
 * that createMasker keeps by default: every value is then judged afresh. Same output either way;
 * it is the reference the memos are tested against (fast-path.test.ts).
 */
export interface MaskerOptions {
  memo?: boolean;
}

export interface Masker {
  mask(event: AuditEvent): AuditEvent;
  /** Masks one free-text value (exposed for tests and other stages). */
  maskText(text: string): { text: string; rules: string[] };
}

export function createMasker(policy: MaskingPolicy, key: MaskingKey, options: MaskerOptions = {}): Masker {
  const memo = options.memo !== false;
  const fieldRules = Object.entries(policy.fields).map(([p, a]) => ({ re: new RegExp(p, 'i'), action: a }));
  const words = compileKeyWords({ words: policy.words, notSensitive: policy.notSensitive });
  // The ctx of the text plain() is masking, for the replacers below (set before each replace;
  // apply() never masks text, so no replace runs inside another).
  let replaceCtx: Ctx = { applied: new Applied() };
  const detectors = DETECTORS.filter((d) => policy.detectors[d.name]).map((d) => {
    const made = makeRule('detector', d.name, policy.detectors[d.name]!);
    const rule = d.redacted ? { ...made, redacted: d.redacted } : made;
    // made once per detector: a closure made per replace (with the loop's block context it
    // captured) was allocated for every detector plain() tried on every text
    const replacer = (m: string): string => {
      if (MASKED_MATCH.test(m)) return m;
      if (d.valid && !d.valid(m)) return m;
      return apply(m, rule, replaceCtx) ?? '';
    };
    return { ...d, rule, replacer };
  });
  const hintOfAny = anyHint(detectors);
  /** Whether a detector could match a text with these features (their `needs`). */
  const needs = compileNeeds(detectors.map((d) => d.needs));
  const headerRules = new Map(Object.entries(policy.headers).map(([h, a]) => [h.toLowerCase(), a]));
  const encodedRule = makeRule('encoded', 'detector', 'redact');

  const pseudonym = pseudonymizer(key);
  const pseudonyms = new Map<string, string>();
  const hash = (value: string): string => {
    // The same values come back (a user's email, a session cookie's fingerprint), and an HMAC
    // is the most expensive step of masking: keep recent answers. Bounded; values from outside.
    let p = pseudonyms.get(value);
    if (p === undefined) {
      p = pseudonym(value);
      if (pseudonyms.size >= 10_000) pseudonyms.clear();
      pseudonyms.set(value, p);
    }
    return p;
  };
  const apply = (value: string, rule: Rule, ctx: Ctx): string | undefined => {
    const action = rule.action;
    if (alreadyMasked(value) || (action === 'partial' && ALREADY_PARTIAL.test(value))) return value;
    ctx.applied.add(rule.applied);
    switch (action) {
      case 'redact':
        return rule.redacted;
      case 'hash':
        return hash(value);
      case 'partial': {
        const plain = value.replace(/[\s-]/g, '');
        const keep = Math.min(policy.partialKeep, Math.floor(plain.length / 3));
        return `****${keep > 0 ? plain.slice(-keep) : ''}`;
      }
      case 'drop':
        return undefined;
    }
  };

  // Key names repeat endlessly (the same JSON shapes, the same headers), and a name is split into
  // words and matched: remember the answer. Bounded, since names come from the outside.
  const fieldCache = new Map<string, Rule | null>();
  const fieldRule = (name: string): Rule | undefined => {
    let r = fieldCache.get(name);
    if (r === undefined) {
      const custom = fieldRules.find((f) => f.re.test(name));
      const word = custom ? undefined : words.match(name);
      r = custom ? makeRule('field', ruleName(name.toLowerCase()), custom.action) : word ? makeRule('field', word.word.replace(/ /g, '-'), word.action) : null;
      if (fieldCache.size >= 10_000) fieldCache.clear();
      fieldCache.set(name, r);
    }
    return r ?? undefined;
  };
  // The same for header names: policy.headers first, then the key words.
  const headerCache = new Map<string, Rule | null>();
  const headerRule = (name: string): Rule | undefined => {
    let r = headerCache.get(name);
    if (r === undefined) {
      const lower = name.toLowerCase();
      const listed = headerRules.get(lower);
      const field = listed ? undefined : fieldRule(lower);
      r = listed ? makeRule('header', lower, listed) : field ? makeRule('header', field.applied.split(':')[1]!, field.action) : null;
      if (headerCache.size >= 10_000) headerCache.clear();
      headerCache.set(name, r);
    }
    return r ?? undefined;
  };

  // Header values and user agents repeat from event to event, so their results are kept (same
  // input, same key -> same output and rules). Only theirs: caching values that never come back
  // (paths, ids, body fields) costs more in garbage collection than it saves.
  const textCache = new Map<string, { out: string; rules: string[] }>();
  const textRepeated = (s: string, ctx: Ctx): string => {
    if (s.length < 32 || s.length > 512) return text(s, ctx);
    const hit = textCache.get(s);
    if (hit) {
      for (const r of hit.rules) ctx.applied.add(r);
      return hit.out;
    }
    const sub: Ctx = { applied: new Applied() };
    const out = text(s, sub);
    for (const r of sub.applied.items) ctx.applied.add(r);
    if (textCache.size >= 5_000) textCache.clear();
    textCache.set(s, { out, rules: sub.applied.items });
    return out;
  };

  /**
   * `key=value`, `key: value`, `"key": "value"` pairs with a sensitive key, masked. The value of an
   * innocent key is scanned again: in `line: password=x` the first pair found is `line`, and its
   * bare value holds the pair that matters.
   */
  const pairs = (s: string, ctx: Ctx): string => {
    let out = '';
    let from = 0;
    KV.lastIndex = 0;
    for (let m = KV.exec(s); m !== null; m = KV.exec(s)) {
      const [whole, q = '', k = '', sep = '', dq, sq, bare] = m;
      const rule = fieldRule(k);
      const v = dq ?? sq ?? bare ?? '';
      if (!rule) {
        // scan again from where the value starts: it may be the next key
        KV.lastIndex = m.index + 2 * q.length + k.length + sep.length;
        continue;
      }
      if (v === '' || FINGERPRINT.test(v)) continue;
      const masked = apply(v, rule, ctx) ?? '';
      out += `${s.slice(from, m.index)}${q}${k}${q}${sep}${dq !== undefined ? `"${masked}"` : sq !== undefined ? `'${masked}'` : masked}`;
      from = m.index + whole.length;
    }
    return from === 0 ? s : out + s.slice(from);
  };

  /** key=value pairs and the detectors, without decoding. */
  const plain = (s: string, ctx: Ctx): string => {
    if (s.length < 3) return s;
    // sensitive key/value pairs first: a password is not recognisable by its value
    let f = scanFeatures(s);
    let out = !f.eq && !f.colon ? s : pairs(s, ctx);
    if (out.length < 6) return out;
    if (out !== s) f = scanFeatures(out);
    // the detectors' needs, then their hints, then their patterns: each screen is cheaper than the next
    if (!needs.any(f) || !hintOfAny.test(out)) return out;
    for (let i = 0; i < detectors.length; i++) {
      const d = detectors[i]!;
      if (!needs.one(f, i) || !d.hint.test(out)) continue;
      d.pattern.lastIndex = 0;
      const before = out;
      replaceCtx = ctx;
      out = out.replace(d.pattern, d.replacer);
      // what a later detector needs is judged on the text it will see
      if (out !== before) f = scanFeatures(out);
    }
    return out;
  };

  /** Whether decoded bytes are text worth scanning (not the noise any 24 letters decode to). */
  const readable = (b: Buffer): string | null => {
    if (b.length < 8) return null;
    let printable = 0;
    for (const c of b) if ((c >= 0x20 && c < 0x7f) || c === 9 || c === 10 || c === 13) printable++;
    return printable / b.length >= 0.9 ? b.toString('utf8') : null;
  };
  /**
   * Whether a decoded run holds something the plain scan would mask, looking one level further
   * down (base64 inside percent-encoding, percent-encoding twice) but no more.
   */
  const decodedHit = (decoded: string | null, depth = 1): boolean => {
    if (decoded === null) return false;
    if (plain(decoded, { applied: new Applied() }) !== decoded) return true;
    return depth > 0 && encodedHit(decoded, depth - 1);
  };
  /**
   * A base64 run decoded: as found, and from after each of its first slashes (`/` is in the
   * alphabet, so a path `/files/<base64>` is one run whose start is not the encoding's).
   */
  const b64Hit = (run: string, depth: number): boolean => {
    if (/^[0-9a-f-]+$/i.test(run)) return false; // hex: digests, pseudonyms, UUIDs
    for (let start = 0, n = 0; start >= 0 && n < 5; n++) {
      const candidate = run.slice(start);
      if (candidate.length < 24) break;
      if (decodedHit(readable(Buffer.from(candidate, 'base64')), depth)) return true;
      const slash = run.indexOf('/', start);
      start = slash < 0 ? -1 : slash + 1;
    }
    return false;
  };
  const encodedHit = (s: string, depth: number): boolean => {
    if (B64_HINT.test(s)) for (const [run] of s.matchAll(B64_RUN)) if (b64Hit(run, depth)) return true;
    if (s.includes('%')) {
      for (const [run] of s.matchAll(PCT_RUN)) {
        try {
          const d = decodeURIComponent(run.replace(/\+/g, ' '));
          if (d !== run && decodedHit(d, depth)) return true;
        } catch {
          // not percent-encoding after all
        }
      }
    }
    return false;
  };

  const text = (s: string, ctx: Ctx): string => {
    let out = plain(s, ctx);
    if (out.length < 12) return out;
    // base64 / base64url / percent-encoded text, decoded for detection: a secret that was encoded
    // to pass a filter is still a secret. The whole encoded run is redacted (its decoded form is
    // never kept).
    if (B64_HINT.test(out)) {
      out = out.replace(B64_RUN, (run) => {
        if (alreadyMasked(run) || !b64Hit(run, 1)) return run;
        ctx.applied.add(encodedRule.applied);
        return '[redacted:encoded]';
      });
    }
    if (out.includes('%')) {
      out = out.replace(PCT_RUN, (run) => {
        let decoded: string;
        try {
          decoded = decodeURIComponent(run.replace(/\+/g, ' '));
        } catch {
          return run;
        }
        if (decoded === run || !decodedHit(decoded)) return run;
        ctx.applied.add(encodedRule.applied);
        return '[redacted:encoded]';
      });
    }
    return out;
  };

  /** Whether free-text masking would change a value (identifiers, names, keys). */
  const unsafeCache = new Map<string, boolean>();
  const textChanges = (s: string): boolean => {
    // most identifiers fail every screen: no pair separator, no detector hint, nothing encoded
    if (s.length < 3) return false;
    // pairs need `:` or `=`, encoded runs `%` or 24 base64 characters, detectors their needs
    const f = scanFeatures(s);
    if (!f.colon && !f.eq && !f.percent && f.run < 24 && !needs.any(f)) return false;
    let r = unsafeCache.get(s);
    if (r === undefined) {
      r = text(s, { applied: new Applied() }) !== s;
      if (unsafeCache.size >= 10_000) unsafeCache.clear();
      unsafeCache.set(s, r);
    }
    return r;
  };

  /** A value with a strict shape: kept when it has it and nothing is detected in it, else fingerprinted. */
  /** Whether a value is kept under a shape: it has the shape and nothing is detected in it. */
  const keeps = (value: string, shape: ShapeName): boolean => SHAPES[shape](value) && (CLOSED_SHAPES.has(shape) || !textChanges(value));
  // The verdicts of the open shapes (identifiers, names, scope tokens, URLs, hosts), by shape:
  // the same subjects, clients, issuers, audiences, kids, roles and hosts come back on nearly
  // every event, and one lookup replaces a regex and a features scan. Closed shapes are cheaper
  // to test than to look up. Bounded, since the values come from outside.
  const shapeMemo = new Map<ShapeName, Map<string, boolean>>();
  const keepsMemo = (value: string, shape: ShapeName): boolean => {
    let byValue = shapeMemo.get(shape);
    if (byValue === undefined) shapeMemo.set(shape, (byValue = new Map()));
    let kept = byValue.get(value);
    if (kept === undefined) {
      kept = keeps(value, shape);
      if (byValue.size >= 2_000) byValue.clear();
      byValue.set(value, kept);
    }
    return kept;
  };
  const shaped = (value: string, shape: ShapeName, field: string, ctx: Ctx): string => {
    if (alreadyMasked(value)) return value;
    // closed shapes (UUIDs, SHA-256 hex, trace ids, addresses, methods) cannot hold anything a
    // detector knows (a 16-hex span id can be a card number: not closed)
    if (memo && !CLOSED_SHAPES.has(shape) ? keepsMemo(value, shape) : keeps(value, shape)) return value;
    ctx.applied.add(`shape:${field}:hash`);
    return hash(value);
  };
  const shapedOrNull = (value: string | null, shape: ShapeName, field: string, ctx: Ctx): string | null =>
    value === null ? null : shaped(value, shape, field, ctx);
  const fingerprinted = (value: string, rule: string, ctx: Ctx): string => {
    if (alreadyMasked(value)) return value;
    ctx.applied.add(rule);
    return hash(value);
  };

  /**
   * A JSON body, masked in place (json-body.ts): string values through the detectors, members
   * whose name has a sensitive word masked whole (objects and arrays as their JSON) or dropped,
   * member names that hold a secret fingerprinted. Throws on invalid or too deep JSON (the caller
   * masks it with the loose scanner); null when nothing changed.
   */
  let jsonCtx: Ctx = { applied: new Applied() };
  // member names repeat on every body of the same API: their verdict is kept (bounded: from outside)
  const memberVerdicts = new Map<string, boolean>();
  const memberChanges = (name: string): boolean => {
    if (!memo) return textChanges(name);
    let changes = memberVerdicts.get(name);
    if (changes === undefined) {
      changes = textChanges(name);
      if (memberVerdicts.size >= 5_000) memberVerdicts.clear();
      memberVerdicts.set(name, changes);
    }
    return changes;
  };
  const memberName = (name: string): string => (name.length < 6 || !memberChanges(name) ? name : fingerprinted(name, 'name:json-member:hash', jsonCtx));
  const jsonHooks = {
    string: (s: string) => text(s, jsonCtx),
    matches: (name: string) => fieldRule(name) !== undefined,
    whole: (name: string, raw: string, isString: boolean) => (isString && (raw === '' || FINGERPRINT.test(raw)) ? raw : apply(raw, fieldRule(name)!, jsonCtx)),
    name: memberName,
  };
  const json = (s: string, ctx: Ctx): string | null => {
    jsonCtx = ctx;
    return maskJson(s, jsonHooks);
  };
  const loose = (s: string, ctx: Ctx): string => {
    jsonCtx = ctx;
    return maskLooseJson(s, jsonHooks);
  };

  const formDecode = (x: string): string => {
    // most keys and values are plain: nothing to decode
    if (!x.includes('%') && !x.includes('+')) return x;
    const plus = x.replace(/\+/g, ' ');
    try {
      return decodeURIComponent(plus);
    } catch {
      return plus; // a stray % is kept as it is, as URLSearchParams would
    }
  };
  /**
   * application/x-www-form-urlencoded bodies and query strings. Pairs that need no masking are
   * kept byte for byte (their encoding is the client's); a masked pair is re-encoded as
   * URLSearchParams would, and a dropped pair is removed.
   */
  // the ctx of the form being masked, for formPair (made once, not per form; form() does not nest)
  let formCtx: Ctx = { applied: new Applied() };
  const formPair = (s: string, start: number, eq: number, end: number): string | null | undefined => {
    const ctx = formCtx;
    const k = formDecode(s.slice(start, eq < 0 ? end : eq));
    const v = eq < 0 ? '' : formDecode(s.slice(eq + 1, end));
    const rule = fieldRule(k);
    // the key can carry a secret too (a token used as a parameter name)
    const maskedKey = text(k, ctx);
    let masked: string | undefined;
    if (rule && v !== '') masked = apply(v, rule, ctx);
    else {
      masked = text(v, ctx);
      if (masked === v && maskedKey === k) return null;
    }
    return masked === undefined ? undefined : `${formEncode(maskedKey)}=${formEncode(masked)}`;
  };
  const form = (s: string, ctx: Ctx): string => {
    formCtx = ctx;
    return mapFormPairs(s, formPair);
  };

  /** A Content-Type value: the media type kept, each parameter masked by name and value; unparseable: fingerprinted. */
  // content types repeat from event to event: keep their results (output and rules)
  // (by field, then value: a key made of both was a new string to build and hash per call)
  const mediaTypeCache = new Map<string, Map<string, { out: string; rules: string[] }>>();
  const mediaType = (v: string, field: string, ctx: Ctx): string => {
    if (!memo) return mediaTypeUncached(v, field, ctx);
    let byValue = mediaTypeCache.get(field);
    if (byValue === undefined) mediaTypeCache.set(field, (byValue = new Map()));
    const hit = byValue.get(v);
    if (hit) {
      for (const r of hit.rules) ctx.applied.add(r);
      return hit.out;
    }
    const sub: Ctx = { applied: new Applied() };
    const out = mediaTypeUncached(v, field, sub);
    for (const r of sub.applied.items) ctx.applied.add(r);
    if (byValue.size >= 1_000) byValue.clear();
    byValue.set(v, { out, rules: sub.applied.items });
    return out;
  };
  const mediaTypeUncached = (v: string, field: string, ctx: Ctx): string => {
    if (v === '' || alreadyMasked(v)) return v;
    const m = parseMediaType(v);
    if (!m) return fingerprinted(v, `shape:${field}:hash`, ctx);
    let changed = false;
    let out = m.type;
    for (const [name, value] of Object.entries(m.parameters)) {
      let masked: string | undefined = value;
      if (!/^[a-z0-9!#$&^_.+-]{1,64}$/.test(name) || textChanges(name)) {
        changed = true;
        continue; // a parameter name that is not a token, or holds a secret: the parameter is left out
      }
      const rule = fieldRule(name);
      if (rule && value !== '') masked = apply(value, rule, ctx);
      else if (name === 'charset') masked = /^[A-Za-z0-9._:-]{1,40}$/.test(value) ? value : fingerprinted(value, `shape:${field}:hash`, ctx);
      else if (name === 'boundary') masked = validBoundary(value) && !textChanges(value) ? value : fingerprinted(value, `shape:${field}:hash`, ctx);
      else masked = text(value, ctx);
      if (masked !== value) changed = true;
      if (masked === undefined) continue;
      out += `; ${name}=${/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(masked) ? masked : JSON.stringify(masked)}`;
    }
    return changed ? out : v;
  };

  const isTextType = (type: string) => typeListed(type, policy.textContentTypes);

  const fileOf = (body: string) => `[file part: ${Buffer.byteLength(body)} bytes, sha256 ${createHash('sha256').update(body).digest('hex')}]`;

  /** One part's header lines: Content-Disposition by its parameters, Content-Type as a media type, the rest as headers. */
  const partHeaders = (head: string, ctx: Ctx): { head: string; name: string; file: boolean; type: string | null } => {
    let name = '';
    let file = false;
    let type: string | null = null;
    const lines = head.split(/\r?\n/).map((line) => {
      const colon = line.indexOf(':');
      if (colon <= 0) return text(line, ctx);
      const h = line.slice(0, colon);
      const v = line.slice(colon + 1).trim();
      const lower = h.toLowerCase();
      if (lower === 'content-disposition') {
        name =
          /\bname="([^"]*)"|\bname=([^;\s]+)/i
            .exec(v)
            ?.slice(1)
            .find((x) => x !== undefined) ?? '';
        file = /\bfilename\*?=/i.test(v);
        const maskedName = name === '' || !textChanges(name) ? name : fingerprinted(name, 'name:multipart-part:hash', ctx);
        const rest = v.replace(/\bname="[^"]*"|\bname=[^;\s]+/i, 'name=""');
        return `${h}: ${text(rest, ctx).replace('name=""', `name=${JSON.stringify(maskedName)}`)}`;
      }
      if (lower === 'content-type') {
        type = parseMediaType(v)?.type ?? 'application/octet-stream';
        return `${h}: ${mediaType(v, 'multipart.part.content-type', ctx)}`;
      }
      const one = headers({ [h]: v }, ctx);
      const [k, val] = Object.entries(one)[0] ?? [h, ''];
      return `${k}: ${val}`;
    });
    return { head: lines.join(head.includes('\r\n') ? '\r\n' : '\n'), name, file, type };
  };

  /**
   * A multipart body with a valid boundary: the preamble and the epilogue as text, each part's
   * headers, then its content by name (key words), as JSON or text; file and non-text parts
   * reduced to their size and SHA-256.
   */
  const multipart = (s: string, boundary: string, ctx: Ctx): string => {
    const delimiter = `--${boundary}`;
    const pieces = s.split(delimiter);
    return pieces
      .map((part, i) => {
        if (i === 0) return text(part, ctx); // preamble
        if (part.startsWith('--')) return `--${text(part.slice(2), ctx)}`; // the close delimiter, then the epilogue
        const split = part.indexOf('\r\n\r\n') >= 0 ? part.indexOf('\r\n\r\n') : part.indexOf('\n\n');
        if (split < 0) return text(part, ctx);
        const sep = part.startsWith('\r\n\r\n', split) ? '\r\n\r\n' : '\n\n';
        const h = partHeaders(part.slice(0, split), ctx);
        const body = part.slice(split + sep.length);
        const trailing = body.match(/\r?\n$/)?.[0] ?? '';
        const value = body.slice(0, body.length - trailing.length);
        if (h.file || (h.type !== null && !isTextType(h.type))) {
          if (/^\[file part: \d+ bytes, sha256 [0-9a-f]{64}\]$/.test(value)) return `${h.head}${sep}${body}`;
          ctx.applied.add('body:multipart-file:dropped');
          return `${h.head}${sep}${fileOf(body)}${trailing}`;
        }
        const rule = fieldRule(h.name);
        let masked: string;
        if (rule && value) masked = apply(value, rule, ctx) ?? '';
        else if (h.type !== null && isJsonType(h.type)) masked = jsonOrLoose(value, false, ctx);
        else masked = text(value, ctx);
        return `${h.head}${sep}${masked}${trailing}`;
      })
      .join(delimiter);
  };

  const jsonOrLoose = (s: string, truncated: boolean, ctx: Ctx): string => {
    if (!truncated) {
      const applied = ctx.applied.size;
      try {
        return json(s, ctx) ?? s;
      } catch (err) {
        // not JSON after all, or nested too deep: forget what the partial scan recorded (the
        // rules are kept in insertion order) and scan it loosely
        if (!(err instanceof JsonSyntaxError || err instanceof JsonDepthError || err instanceof RangeError || err instanceof SyntaxError)) throw err;
        ctx.applied.truncate(applied);
      }
    }
    return text(loose(s, ctx), ctx);
  };

  const binary = (b: Body, ctx: Ctx, contentType: string | null): Body => {
    ctx.applied.add('body:binary:dropped');
    return {
      ...b,
      contentType,
      content: null,
      sha256:
        b.sha256 !== null && SHAPES.hex64(b.sha256)
          ? b.sha256
          : createHash('sha256')
              .update(b.content ?? '')
              .digest('hex'),
    };
  };

  const body = (b: Body | null, field: string, ctx: Ctx): Body | null => {
    if (!b) return b;
    const contentType = b.contentType === null ? null : mediaType(b.contentType, `${field}.contentType`, ctx);
    const sha256 = shapedOrNull(b.sha256, 'hex64', `${field}.sha256`, ctx);
    if (b.content === null) return { ...b, contentType, sha256 };
    const media = b.contentType === null ? null : parseMediaType(b.contentType);
    if (b.contentType !== null && media === null) return binary(b, ctx, contentType);
    if (media && (!isTextType(media.type) || !charsetReadable(media.parameters.charset))) return binary(b, ctx, contentType);
    if (looksBinary(b.content)) return binary(b, ctx, contentType);
    const type = media?.type ?? '';
    let content: string;
    if (isJsonType(type)) content = jsonOrLoose(b.content, b.truncated, ctx);
    else if (type === 'application/x-www-form-urlencoded') content = form(b.content, ctx);
    else if (type.startsWith('multipart/') && validBoundary(media!.parameters.boundary)) content = multipart(b.content, media!.parameters.boundary!, ctx);
    else if (/^\s*[[{]/.test(b.content)) content = text(loose(b.content, ctx), ctx);
    else content = text(b.content, ctx);
    return { ...b, contentType, sha256, content };
  };

  /** X-Forwarded-For / X-Real-IP / Forwarded: each address kept when it is one, else fingerprinted. */
  const forwarded = (v: string, ctx: Ctx): string =>
    v
      .split(',')
      .map((entry) => {
        const e = entry.trim();
        if (!e.includes('=')) return SHAPES.forwardedEntry(e) ? entry : ` ${fingerprinted(e, 'shape:header.x-forwarded-for:hash', ctx)}`;
        // RFC 7239 pairs: for/by are nodes, host a host, proto a scheme; anything else as text
        return entry
          .split(';')
          .map((pair) => {
            const [k = '', ...rest] = pair.split('=');
            const raw = rest.join('=').trim();
            const val = raw.replace(/^"|"$/g, '');
            const name = k.trim().toLowerCase();
            const node = val.replace(/^\[([^\]]+)\](?::\d+)?$/, '$1').replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
            const ok =
              name === 'for' || name === 'by'
                ? SHAPES.forwardedEntry(node)
                : name === 'host'
                  ? SHAPES.host(val)
                  : name === 'proto'
                    ? SHAPES.scheme(val)
                    : false;
            return ok ? pair : `${k}=${fingerprinted(raw, 'shape:header.forwarded:hash', ctx)}`;
          })
          .join(';');
      })
      .join(',');

  const HEADER_SHAPES: Record<string, (v: string, ctx: Ctx) => string> = {
    host: (v, ctx) => shaped(v, 'host', 'header.host', ctx),
    'x-request-id': (v, ctx) => shaped(v, 'identifier', 'header.x-request-id', ctx),
    'x-correlation-id': (v, ctx) => shaped(v, 'identifier', 'header.x-correlation-id', ctx),
    'x-forwarded-for': forwarded,
    'x-real-ip': forwarded,
    forwarded,
    'x-forwarded-host': (v, ctx) => shaped(v, 'host', 'header.x-forwarded-host', ctx),
    'x-forwarded-proto': (v, ctx) => shaped(v, 'scheme', 'header.x-forwarded-proto', ctx),
    'content-type': (v, ctx) => mediaType(v, 'header.content-type', ctx),
    traceparent: (v, ctx) => shaped(v, 'traceparent', 'header.traceparent', ctx),
    tracestate: (v, ctx) => shaped(v, 'tracestate', 'header.tracestate', ctx),
  };

  /**
   * What is done with a header by its name alone: fingerprinted with its value (a name that is
   * not a token, or holds a secret), masked by a rule, given a shape, or masked as text.
   */
  interface HeaderPlan {
    fingerprint: boolean;
    rule: Rule | undefined;
    special: ((v: string, ctx: Ctx) => string) | undefined;
  }
  const headerPlanOf = (name: string): HeaderPlan => {
    if (!SHAPES.headerName(name) || textChanges(name)) return { fingerprint: true, rule: undefined, special: undefined };
    const rule = headerRule(name);
    return { fingerprint: false, rule, special: rule ? undefined : HEADER_SHAPES[name.toLowerCase()] };
  };
  // header names repeat on every event: one lookup instead of a regex, a features scan, a
  // lower-casing and two map lookups per header. Bounded, since names come from outside.
  const headerPlans = new Map<string, HeaderPlan>();
  const headerPlan = (name: string): HeaderPlan => {
    if (!memo) return headerPlanOf(name);
    let plan = headerPlans.get(name);
    if (plan === undefined) {
      plan = headerPlanOf(name);
      if (headerPlans.size >= 2_000) headerPlans.clear();
      headerPlans.set(name, plan);
    }
    return plan;
  };

  const headers = (h: Record<string, string>, ctx: Ctx): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name in h) {
      const v = h[name]!;
      const plan = headerPlan(name);
      if (plan.fingerprint) {
        // a header name that is not a token, or holds a secret: both name and value fingerprinted
        out[fingerprinted(name, 'name:header:hash', ctx)] = fingerprinted(v, 'name:header:hash', ctx);
        continue;
      }
      const rule = plan.rule;
      if (rule) {
        if (FINGERPRINT.test(v)) out[name] = v;
        else {
          const masked = apply(v, rule, ctx);
          if (masked !== undefined) out[name] = masked;
        }
        continue;
      }
      out[name] = plan.special ? plan.special(v, ctx) : textRepeated(v, ctx);
    }
    return out;
  };

  const query = (q: string | null, ctx: Ctx): string | null => (q ? form(q, ctx) : q);

  const claim = (value: string | null, field: string, unverified: boolean, ctx: Ctx): string | null => {
    if (value === null) return null;
    const t = EVENT_FIELDS[field];
    if (t?.kind !== 'claim') throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(`event-fields.ts: ${field} is not a claim`);
    if (unverified && (t.fingerprintUnverified || !JOSE_ALGS.has(value))) return fingerprinted(value, `unverified:${field}:hash`, ctx);
    return shaped(value, t.shape, field, ctx);
  };
  const token = (t: TokenInfo | null, unverified: boolean, ctx: Ctx): TokenInfo | null =>
    t && {
      ...t,
      jti: claim(t.jti, 'token.jti', unverified, ctx),
      sid: claim(t.sid, 'token.sid', unverified, ctx),
      iss: claim(t.iss, 'token.iss', unverified, ctx),
      aud: t.aud.map((a) => claim(a, 'token.aud[]', unverified, ctx)!),
      kid: claim(t.kid, 'token.kid', unverified, ctx),
      alg: claim(t.alg, 'token.alg', unverified, ctx),
      familyId: claim(t.familyId, 'token.familyId', unverified, ctx),
      fingerprint: shaped(t.fingerprint, 'hex64', 'token.fingerprint', ctx),
      previousFingerprint: shapedOrNull(t.previousFingerprint, 'hex64', 'token.previousFingerprint', ctx),
    };

  const attributes = (a: Record<string, string>, ctx: Ctx): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(a)) {
      const known = KNOWN_ATTRIBUTES[k];
      if (known !== undefined) {
        if (known === 'fingerprint') out[k] = fingerprinted(v, `unverified:attributes.${k}:hash`, ctx);
        else if (Array.isArray(known)) out[k] = known.includes(v) ? v : fingerprinted(v, `shape:attributes.${k}:hash`, ctx);
        else out[k] = shaped(v, known as ShapeName, `attributes.${k}`, ctx);
        continue;
      }
      const keyOk = alreadyMasked(k) || (SHAPES.attributeKey(k) && !textChanges(k));
      const outKey = keyOk ? k : fingerprinted(k, 'shape:attributes{key}:hash', ctx);
      const rule = fieldRule(k);
      const masked = rule && v ? apply(v, rule, ctx) : text(v, ctx);
      if (masked !== undefined) out[outKey] = masked;
    }
    return out;
  };

  return {
    maskText(s: string) {
      const ctx: Ctx = { applied: new Applied() };
      return { text: text(s, ctx), rules: ctx.applied.items.sort() };
    },
    mask(e: AuditEvent): AuditEvent {
      const ctx: Ctx = { applied: new Applied() };
      for (const r of e.masking?.rulesApplied ?? []) if (SHAPES.ruleId(r)) ctx.applied.add(r);
      const unverified = e.attributes['token.signatureVerified'] === 'false' || (e.rejection !== null && UNVERIFIED_REASONS.has(e.rejection.reason));
      const req = e.http?.request;
      const http = e.http
        ? {
            request: {
              ...req!,
              id: shapedOrNull(req!.id, 'identifier', 'http.request.id', ctx),
              method: shaped(req!.method, 'method', 'http.request.method', ctx),
              scheme: shaped(req!.scheme, 'scheme', 'http.request.scheme', ctx),
              host: shaped(req!.host, 'host', 'http.request.host', ctx),
              path: text(req!.path, ctx),
              route: req!.route === null ? null : text(req!.route, ctx),
              query: query(req!.query, ctx),
              headers: headers(req!.headers, ctx),
              body: body(req!.body, 'http.request.body', ctx),
            },
            response: e.http.response
              ? { ...e.http.response, headers: headers(e.http.response.headers, ctx), body: body(e.http.response.body, 'http.response.body', ctx) }
              : null,
          }
        : null;
      if (e.enrichment) ctx.applied.add('enrichment:raw:dropped');
      return {
        ...e,
        id: shaped(e.id, 'uuid', 'id', ctx),
        kind: KINDS.has(e.kind) ? e.kind : (fingerprinted(e.kind, 'shape:kind:hash', ctx) as AuditEvent['kind']),
        source: {
          service: shaped(e.source.service, 'name', 'source.service', ctx),
          instance: shaped(e.source.instance, 'name', 'source.instance', ctx),
          environment: shaped(e.source.environment, 'name', 'source.environment', ctx),
        },
        actor: {
          sub: shapedOrNull(e.actor.sub, 'identifier', 'actor.sub', ctx),
          clientId: shapedOrNull(e.actor.clientId, 'identifier', 'actor.clientId', ctx),
          tenant: shapedOrNull(e.actor.tenant, 'identifier', 'actor.tenant', ctx),
          roles: e.actor.roles.map((r) => shaped(r, 'scopeToken', 'actor.roles[]', ctx)),
          scopes: e.actor.scopes.map((s) => shaped(s, 'scopeToken', 'actor.scopes[]', ctx)),
        },
        token: token(e.token, unverified, ctx),
        rejection: e.rejection ? { ...e.rejection, detail: e.rejection.detail === null ? null : text(e.rejection.detail, ctx) } : null,
        key: e.key
          ? {
              jwksUrl: shapedOrNull(e.key.jwksUrl, 'url', 'key.jwksUrl', ctx),
              added: e.key.added.map((k) => shaped(k, 'identifier', 'key.added[]', ctx)),
              removed: e.key.removed.map((k) => shaped(k, 'identifier', 'key.removed[]', ctx)),
              current: e.key.current.map((k) => shaped(k, 'identifier', 'key.current[]', ctx)),
            }
          : null,
        session: e.session
          ? { id: shaped(e.session.id, 'identifier', 'session.id', ctx), reason: e.session.reason === null ? null : text(e.session.reason, ctx) }
          : null,
        // schema v4: an approver's reason is free text, the people are identifiers like actor.sub
        approval: e.approval
          ? {
              ...e.approval,
              id: shaped(e.approval.id, 'uuid', 'approval.id', ctx),
              fingerprint: shaped(e.approval.fingerprint, 'hex64', 'approval.fingerprint', ctx),
              requester: shaped(e.approval.requester, 'identifier', 'approval.requester', ctx),
              approvers: e.approval.approvers.map((a) => shaped(a, 'identifier', 'approval.approvers[]', ctx)),
              reason: e.approval.reason === null ? null : text(e.approval.reason, ctx),
              rule: shapedOrNull(e.approval.rule, 'identifier', 'approval.rule', ctx),
            }
          : null,
        http,
        network: e.network
          ? {
              clientIp: shapedOrNull(e.network.clientIp, 'ip', 'network.clientIp', ctx),
              forwardedFor: e.network.forwardedFor.map((f) => shaped(f, 'forwardedEntry', 'network.forwardedFor[]', ctx)),
              userAgent: e.network.userAgent === null ? null : textRepeated(e.network.userAgent, ctx),
            }
          : null,
        trace: e.trace
          ? {
              traceparent: shapedOrNull(e.trace.traceparent, 'traceparent', 'trace.traceparent', ctx),
              tracestate: shapedOrNull(e.trace.tracestate, 'tracestate', 'trace.tracestate', ctx),
              traceId: shapedOrNull(e.trace.traceId, 'traceId', 'trace.traceId', ctx),
              spanId: shapedOrNull(e.trace.spanId, 'spanId', 'trace.spanId', ctx),
            }
          : null,
        enrichment: null,
        attributes: attributes(e.attributes, ctx),
        masking: { rulesApplied: sortedRules(ctx.applied.items), policyVersion: policy.version, keyId: key.id },
      };
    },
  };
}

/**
 * The rules applied, in Array.prototype.sort's order (UTF-16 code units), sorted in place by
 * insertion: an event has a dozen or so, and the built-in sort allocated ~0.9 KiB per event
 * for them (sampling heap profile of mask(): a tenth of what it allocates). fast-path.test.ts
 * checks the order against the built-in sort on generated events. Sorts `out` itself (the
 * event's Applied list, not used after) rather than a copy.
 */
function sortedRules(out: string[]): string[] {
  // attribute keys come from outside and an event can name thousands of rules: insertion is
  // quadratic, so past a few dozen the built-in sort (the same order; the rules are distinct)
  if (out.length > 32) return out.sort();
  for (let i = 1; i < out.length; i++) {
    const x = out[i]!;
    let j = i - 1;
    while (j >= 0 && out[j]! > x) {
      out[j + 1] = out[j]!;
      j--;
    }
    out[j + 1] = x;
  }
  return out;
}

const cache = new WeakMap<MaskingPolicy, WeakMap<MaskingKeys, Masker>>();

/**
 * The pure entry point: the masked event and the rules applied (also recorded in
 * `event.masking`). Compiled rules are cached per (policy, keys) object pair.
 */
export function mask(event: AuditEvent, policy: MaskingPolicy, keys: MaskingKeys): { event: AuditEvent; rulesApplied: string[] } {
  let byKeys = cache.get(policy);
  if (!byKeys) cache.set(policy, (byKeys = new WeakMap()));
  let masker = byKeys.get(keys);
  if (!masker) byKeys.set(keys, (masker = createMasker(policy, activeKey(keys))));
  const out = masker.mask(event);
  return { event: out, rulesApplied: out.masking?.rulesApplied ?? [] };
}
