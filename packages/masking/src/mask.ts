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
import { DETECTORS } from './detectors.js';
import { activeKey, pseudonym, type MaskingKey, type MaskingKeys } from './keys.js';
import type { Action, MaskingPolicy } from './policy.js';

interface Ctx {
  applied: Set<string>;
}

const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;
/** What this engine writes: masking an already-masked value again would change nothing useful. */
const ALREADY_MASKED = /^(?:\[redacted:[a-z0-9_.-]+\]|hmac:[A-Za-z0-9_-]+:[0-9a-f]{32})$/;
/** A partial mask is only recognised as such for a partial rule: `****abcd` may well be a password. */
const ALREADY_PARTIAL = /^\*{4}[A-Za-z0-9]{0,8}$/;
const KV = /(["']?)([A-Za-z][A-Za-z0-9_.-]{1,40})\1(\s*[:=]\s*)(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s&,;"'}{]+))/g;

export interface Masker {
  mask(event: AuditEvent): AuditEvent;
  /** Masks one free-text value (exposed for tests and other stages). */
  maskText(text: string): { text: string; rules: string[] };
}

export function createMasker(policy: MaskingPolicy, key: MaskingKey): Masker {
  const fieldRules = Object.entries(policy.fields).map(([p, a]) => ({ re: new RegExp(p, 'i'), action: a }));
  const detectors = DETECTORS.filter((d) => policy.detectors[d.name]);
  const headerRules = new Map(Object.entries(policy.headers).map(([h, a]) => [h.toLowerCase(), a]));

  const apply = (value: string, action: Action, rule: string, ctx: Ctx): string | undefined => {
    if (ALREADY_MASKED.test(value) || (action === 'partial' && ALREADY_PARTIAL.test(value))) return value;
    ctx.applied.add(`${rule}:${action}`);
    switch (action) {
      case 'redact':
        return `[redacted:${rule.split(':').pop()}]`;
      case 'hash':
        return pseudonym(value, key);
      case 'partial': {
        const plain = value.replace(/[\s-]/g, '');
        const keep = Math.min(policy.partialKeep, Math.floor(plain.length / 3));
        return `****${keep > 0 ? plain.slice(-keep) : ''}`;
      }
      case 'drop':
        return undefined;
    }
  };

  const fieldAction = (name: string): Action | undefined => fieldRules.find((r) => r.re.test(name))?.action;

  const text = (s: string, ctx: Ctx): string => {
    if (!s) return s;
    // sensitive key/value pairs first: a password is not recognisable by its value
    let out = s.replace(KV, (m, q: string, k: string, sep: string, dq?: string, sq?: string, bare?: string) => {
      const action = fieldAction(k);
      const v = dq ?? sq ?? bare ?? '';
      if (!action || v === '' || FINGERPRINT.test(v)) return m;
      const masked = apply(v, action, `field:${k.toLowerCase()}`, ctx) ?? '';
      return `${q}${k}${q}${sep}${dq !== undefined ? `"${masked}"` : sq !== undefined ? `'${masked}'` : masked}`;
    });
    for (const d of detectors) {
      d.pattern.lastIndex = 0;
      out = out.replace(d.pattern, (m) => {
        if (/^\[redacted:|^hmac:[a-z0-9-]+:[0-9a-f]{32}$/.test(m)) return m;
        if (d.valid && !d.valid(m)) return m;
        return apply(m, policy.detectors[d.name]!, `detector:${d.name}`, ctx) ?? '';
      });
    }
    return out;
  };

  const json = (v: unknown, ctx: Ctx): unknown => {
    if (typeof v === 'string') return text(v, ctx);
    if (Array.isArray(v)) return v.map((x) => json(x, ctx));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const action = fieldAction(k);
        if (!action || x === null || x === undefined) {
          out[k] = json(x, ctx);
          continue;
        }
        const raw = typeof x === 'string' ? x : JSON.stringify(x);
        if (typeof x === 'string' && (FINGERPRINT.test(x) || x === '')) {
          out[k] = x;
          continue;
        }
        const masked = apply(raw, action, `field:${k.toLowerCase()}`, ctx);
        if (masked !== undefined) out[k] = masked;
      }
      return out;
    }
    return v;
  };

  const form = (s: string, ctx: Ctx): string => {
    const params = new URLSearchParams(s);
    const out = new URLSearchParams();
    for (const [k, v] of params) {
      const action = fieldAction(k);
      if (action && v !== '') {
        const masked = apply(v, action, `field:${k.toLowerCase()}`, ctx);
        if (masked !== undefined) out.append(k, masked);
      } else out.append(k, text(v, ctx));
    }
    return out.toString();
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
        const action = fieldAction(name);
        const trailing = body.match(/\r?\n$/)?.[0] ?? '';
        const value = body.slice(0, body.length - trailing.length);
        const masked = action && value ? (apply(value, action, `field:${name.toLowerCase()}`, ctx) ?? '') : text(value, ctx);
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
      try {
        content = JSON.stringify(json(JSON.parse(b.content), ctx));
      } catch {
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
      const lower = name.toLowerCase();
      const action = headerRules.get(lower) ?? fieldAction(lower);
      if (action) {
        if (FINGERPRINT.test(v)) out[name] = v;
        else {
          const masked = apply(v, action, `header:${lower}`, ctx);
          if (masked !== undefined) out[name] = masked;
        }
      } else out[name] = text(v, ctx);
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
        const action = fieldAction(k);
        const masked = action && v ? apply(v, action, `field:${k.toLowerCase()}`, ctx) : text(v, ctx);
        if (masked !== undefined) attributes[k] = masked;
      }
      return {
        ...e,
        http,
        attributes,
        rejection: e.rejection ? { ...e.rejection, detail: e.rejection.detail === null ? null : text(e.rejection.detail, ctx) } : null,
        network: e.network ? { ...e.network, userAgent: e.network.userAgent === null ? null : text(e.network.userAgent, ctx) } : null,
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
