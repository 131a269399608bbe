/**
 * Server-rendered HTML: every value goes through `esc` (the `html` tag escapes each interpolation
 * unless it is already Html), so a value from an event, a query or a URL can never become markup.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

type Part = Html | string | number | boolean | null | undefined | Part[];

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (v instanceof Html) return v.value;
  return esc(v);
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Masked values as the masker writes them: `[redacted:<rule>]`, `hmac:<key id>:<32 hex>`, `****abcd`. */
const MASKED = /\[redacted:[a-z0-9_.-]+\]|hmac:[A-Za-z0-9_-]+:[0-9a-f]{32}|\*{4}[A-Za-z0-9]{0,8}/g;

/** A value with each masked part shown as masked (a marked span), the rest escaped. */
export function withMasks(v: string): Html {
  let out = '';
  let last = 0;
  for (const m of v.matchAll(MASKED)) {
    out += esc(v.slice(last, m.index)) + `<mark class="masked" title="masked by the masker">${esc(m[0])}</mark>`;
    last = m.index! + m[0].length;
  }
  return new Html(out + esc(v.slice(last)));
}
