/**
 * mask(event) -> the same event with secrets and personal data replaced, and the rules applied
 * recorded in `event.masking`. What is looked at:
 *   headers          policy.headers by name (Authorization, Cookie, Set-Cookie, Proxy-Authorization
 *                    are always covered; the interceptor's `sha256:` fingerprints are kept as they
 *                    are), every other header value through the detectors
 *   query string     parameters by name (field rules), values through the detectors
 *   bodies           JSON at any depth, form-urlencoded, multipart (text parts by name; file parts
 *                    reduced to size + sha256), other text; a non-text body is never kept (size +
 *                    sha256 only); truncated JSON is handled as text
 *   free text        `key=value` / `"key": "value"` pairs with sensitive keys, then the detectors,
 *                    in bodies, header values, paths, rejection details, attributes, user agents
 * Actions: redact -> `[redacted:<rule>]`; hash -> `hmac:<key id>:<32 hex>` (keyed HMAC-SHA256:
 * stable for one key, so a value correlates across events without being revealed; a new key id
 * gives new pseudonyms); partial -> `****` + the last characters; drop -> removed.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent, Body } from '@jwt-audit/events';
import { anyHint, DETECTORS } from './detectors.js';
import { maskJson } from './json-body.js';
import { activeKey, pseudonym, type MaskingKey, type MaskingKeys } from './keys.js';
import type { Action, MaskingPolicy } from './policy.js';

interface Ctx {
  applied: Set<string>;
}

/** The interceptor's fingerprints of secret headers (one per value of a repeated header). */
const FINGERPRINT = /^sha256:[0-9a-f]{64}(?:, sha256:[0-9a-f]{64})*$/;
/** What this engine writes: masking an already-masked value again would change nothing useful. */
const ALREADY_MASKED = /^(?:\[redacted:[a-z0-9_.-]+\]|hmac:[A-Za-z0-9_-]+:[0-9a-f]{32})$/;
/** A partial mask is only recognised as such for a partial rule: `****abcd` may well be a password. */
const ALREADY_PARTIAL = /^\*{4}[A-Za-z0-9]{0,8}$/;
const KV = /(["']?)([A-Za-z][A-Za-z0-9_.-]{1,40})\1(\s*[:=]\s*)(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s&,;"'}{]+))/g;

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

export interface Masker {
  mask(event: AuditEvent): AuditEvent;
  /** Masks one free-text value (exposed for tests and other stages). */
  maskText(text: string): { text: string; rules: string[] };
}

export function createMasker(policy: MaskingPolicy, key: MaskingKey): Masker {
  const fieldRules = Object.entries(policy.fields).map(([p, a]) => ({ re: new RegExp(p, 'i'), action: a }));
  const detectors = DETECTORS.filter((d) => policy.detectors[d.name]).map((d) => ({ ...d, rule: makeRule('detector', d.name, policy.detectors[d.name]!) }));
  const hintOfAny = anyHint(detectors);
  const headerRules = new Map(Object.entries(policy.headers).map(([h, a]) => [h.toLowerCase(), a]));

  const pseudonyms = new Map<string, string>();
  const apply = (value: string, rule: Rule, ctx: Ctx): string | undefined => {
    const action = rule.action;
    if (ALREADY_MASKED.test(value) || (action === 'partial' && ALREADY_PARTIAL.test(value))) return value;
    ctx.applied.add(rule.applied);
    switch (action) {
      case 'redact':
        return rule.redacted;
      case 'hash': {
        // The same values come back (a user's email, a session cookie's fingerprint), and an HMAC
        // is the most expensive step of masking: keep recent answers. Bounded; values from outside.
        let p = pseudonyms.get(value);
        if (p === undefined) {
          p = pseudonym(value, key);
          if (pseudonyms.size >= 10_000) pseudonyms.clear();
          pseudonyms.set(value, p);
        }
        return p;
      }
      case 'partial': {
        const plain = value.replace(/[\s-]/g, '');
        const keep = Math.min(policy.partialKeep, Math.floor(plain.length / 3));
        return `****${keep > 0 ? plain.slice(-keep) : ''}`;
      }
      case 'drop':
        return undefined;
    }
  };

  // Field names repeat endlessly (the same JSON shapes, the same headers), and a name is matched
  // against every pattern: remember the answer. Bounded, since names come from the outside.
  const fieldCache = new Map<string, Rule | null>();
  const fieldRule = (name: string): Rule | undefined => {
    let r = fieldCache.get(name);
    if (r === undefined) {
      const action = fieldRules.find((f) => f.re.test(name))?.action;
      r = action ? makeRule('field', name.toLowerCase(), action) : null;
      if (fieldCache.size >= 10_000) fieldCache.clear();
      fieldCache.set(name, r);
    }
    return r ?? undefined;
  };
  // The same for header names: policy.headers first, then the field patterns.
  const headerCache = new Map<string, Rule | null>();
  const headerRule = (name: string): Rule | undefined => {
    let r = headerCache.get(name);
    if (r === undefined) {
      const lower = name.toLowerCase();
      const action = headerRules.get(lower) ?? fieldRule(lower)?.action;
      r = action ? makeRule('header', lower, action) : null;
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
    // nothing shorter than 4 characters holds a key=value pair, nothing shorter than 6 a detected value;
    // short values (ids, content types) are screened faster than they are looked up and stored
    if (s.length < 32 || s.length > 512) return text(s, ctx);
    const hit = textCache.get(s);
    if (hit) {
      for (const r of hit.rules) ctx.applied.add(r);
      return hit.out;
    }
    const sub: Ctx = { applied: new Set() };
    const out = text(s, sub);
    for (const r of sub.applied) ctx.applied.add(r);
    if (textCache.size >= 5_000) textCache.clear();
    textCache.set(s, { out, rules: [...sub.applied] });
    return out;
  };
  const text = (s: string, ctx: Ctx): string => {
    if (s.length < 4) return s;
    // sensitive key/value pairs first: a password is not recognisable by its value
    let out = !s.includes('=') && !s.includes(':') ? s : s.replace(KV, (m, q: string, k: string, sep: string, dq?: string, sq?: string, bare?: string) => {
      const rule = fieldRule(k);
      const v = dq ?? sq ?? bare ?? '';
      if (!rule || v === '' || FINGERPRINT.test(v)) return m;
      const masked = apply(v, rule, ctx) ?? '';
      return `${q}${k}${q}${sep}${dq !== undefined ? `"${masked}"` : sq !== undefined ? `'${masked}'` : masked}`;
    });
    if (out.length < 6 || !hintOfAny.test(out)) return out;
    for (const d of detectors) {
      if (!d.hint.test(out)) continue;
      d.pattern.lastIndex = 0;
      out = out.replace(d.pattern, (m) => {
        if (/^\[redacted:|^hmac:[a-z0-9-]+:[0-9a-f]{32}$/.test(m)) return m;
        if (d.valid && !d.valid(m)) return m;
        return apply(m, d.rule, ctx) ?? '';
      });
    }
    return out;
  };

  /**
   * A JSON body, masked in place (json-body.ts): string values through the detectors, members
   * whose name matches a field pattern masked whole (objects and arrays as their JSON) or dropped.
   * Throws on invalid JSON (the caller masks it as text); null when nothing changed.
   */
  let jsonCtx: Ctx = { applied: new Set() };
  const jsonHooks = {
    string: (s: string) => text(s, jsonCtx),
    matches: (name: string) => fieldRule(name) !== undefined,
    whole: (name: string, raw: string, isString: boolean) => (isString && (raw === '' || FINGERPRINT.test(raw)) ? raw : apply(raw, fieldRule(name)!, jsonCtx)),
  };
  const json = (s: string, ctx: Ctx): string | null => {
    jsonCtx = ctx;
    return maskJson(s, jsonHooks);
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
  const form = (s: string, ctx: Ctx): string => {
    const out: string[] = [];
    for (const pair of s.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const k = formDecode(eq < 0 ? pair : pair.slice(0, eq));
      const v = eq < 0 ? '' : formDecode(pair.slice(eq + 1));
      const rule = fieldRule(k);
      let masked: string | undefined;
      if (rule && v !== '') masked = apply(v, rule, ctx);
      else {
        masked = text(v, ctx);
        // the key can carry a secret too (a token used as a parameter name)
        const maskedKey = text(k, ctx);
        if (masked === v && maskedKey === k) {
          out.push(pair);
          continue;
        }
        out.push(new URLSearchParams([[maskedKey, masked]]).toString());
        continue;
      }
      if (masked !== undefined) out.push(new URLSearchParams([[k, masked]]).toString());
    }
    return out.join('&');
  };

  const isText = (contentType: string | null) => !contentType || policy.textContentTypes.some((t) => contentType.toLowerCase().includes(t));

  const multipart = (s: string, contentType: string, ctx: Ctx): string => {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
    if (!boundary) return text(s, ctx);
    return s
      .split(`--${boundary}`)
      .map((part) => {
        const split = part.indexOf('\r\n\r\n') >= 0 ? part.indexOf('\r\n\r\n') : part.indexOf('\n\n');
        if (split < 0) return part;
        const head = part.slice(0, split);
        const body = part.slice(split).replace(/^\r?\n\r?\n/, '');
        const sep = part.slice(split, split + (part.startsWith('\r\n\r\n', split) ? 4 : 2));
        const name = /name="([^"]*)"/i.exec(head)?.[1] ?? '';
        const partType = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? null;
        if (/filename=/i.test(head) || !isText(partType)) {
          const trailing = body.match(/\r?\n$/)?.[0] ?? '';
          if (/^\[file part: \d+ bytes, sha256 [0-9a-f]{64}\]$/.test(body.slice(0, body.length - trailing.length))) return part;
          ctx.applied.add('body:multipart-file:dropped');
                return `${head}${sep}[file part: ${Buffer.byteLength(body)} bytes, sha256 ${createHash('sha256').update(body).digest('hex')}]${trailing}`;
        }
        const rule = fieldRule(name);
        const trailing = body.match(/\r?\n$/)?.[0] ?? '';
        const value = body.slice(0, body.length - trailing.length);
        const masked = rule && value ? (apply(value, rule, ctx) ?? '') : text(value, ctx);
        return `${head}${sep}${masked}${trailing}`;
      })
      .join(`--${boundary}`);
  };

  const body = (b: Body | null, ctx: Ctx): Body | null => {
    if (!b || b.content === null) return b;
    if (!isText(b.contentType)) {
      ctx.applied.add('body:binary:dropped');
        return { ...b, content: null, sha256: b.sha256 ?? createHash('sha256').update(b.content).digest('hex') };
    }
    const ct = (b.contentType ?? '').toLowerCase();
    let content: string;
    if (ct.includes('json') && !b.truncated) {
      const applied = ctx.applied.size;
      try {
        content = json(b.content, ctx) ?? b.content;
      } catch {
        // not JSON after all (or nested too deep to scan): forget what the partial scan recorded
        // (a Set keeps insertion order) and mask it as text
        let i = 0;
        for (const r of [...ctx.applied]) if (i++ >= applied) ctx.applied.delete(r);
        content = text(b.content, ctx);
      }
    } else if (ct.includes('x-www-form-urlencoded')) content = form(b.content, ctx);
    else if (ct.includes('multipart/')) content = multipart(b.content, b.contentType!, ctx);
    else content = text(b.content, ctx);
    return { ...b, content };
  };

  const headers = (h: Record<string, string>, ctx: Ctx): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(h)) {
      const rule = headerRule(name);
      if (rule) {
        if (FINGERPRINT.test(v)) out[name] = v;
        else {
          const masked = apply(v, rule, ctx);
          if (masked !== undefined) out[name] = masked;
        }
      } else out[name] = textRepeated(v, ctx);
    }
    return out;
  };

  const query = (q: string | null, ctx: Ctx): string | null => (q ? form(q, ctx) : q);

  return {
    maskText(s: string) {
      const ctx: Ctx = { applied: new Set() };
      return { text: text(s, ctx), rules: [...ctx.applied].sort() };
    },
    mask(e: AuditEvent): AuditEvent {
      const ctx: Ctx = { applied: new Set(e.masking?.rulesApplied ?? []) };
      const http = e.http
        ? {
            request: {
              ...e.http.request,
              path: text(e.http.request.path, ctx),
              query: query(e.http.request.query, ctx),
              headers: headers(e.http.request.headers, ctx),
              body: body(e.http.request.body, ctx),
            },
            response: e.http.response ? { ...e.http.response, headers: headers(e.http.response.headers, ctx), body: body(e.http.response.body, ctx) } : null,
          }
        : null;
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(e.attributes)) {
        const rule = fieldRule(k);
        const masked = rule && v ? apply(v, rule, ctx) : text(v, ctx);
        if (masked !== undefined) attributes[k] = masked;
      }
      return {
        ...e,
        http,
        attributes,
        rejection: e.rejection ? { ...e.rejection, detail: e.rejection.detail === null ? null : text(e.rejection.detail, ctx) } : null,
        network: e.network ? { ...e.network, userAgent: e.network.userAgent === null ? null : textRepeated(e.network.userAgent, ctx) } : null,
        session: e.session ? { ...e.session, reason: e.session.reason === null ? null : text(e.session.reason, ctx) } : null,
        masking: { rulesApplied: [...ctx.applied].sort(), policyVersion: policy.version, keyId: key.id },
      };
    },
  };
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
