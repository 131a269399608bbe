/**
 * Masks JSON that the strict scanner (json-body.ts) cannot take: cut by the capture cap, nested
 * deeper than it walks, or slightly broken. It does not parse; it tokenizes. Every string literal
 * is found (escapes respected, an unterminated one runs to the end of the text); a string followed
 * by `:` is a member name: a name with a sensitive key word has its value masked whole whatever
 * the value is (a string, a number, an object or array up to its matching bracket, or everything
 * up to the end of the text when the bracket never comes: the cap cut it); every other string goes
 * through `string()`. Iterative, so no depth is too deep. Text between strings (numbers, brackets,
 * literals) is kept.
 */
export interface LooseJsonHooks {
  string(value: string): string;
  /** a member name: its masked form (the same when nothing was found) */
  name(name: string): string;
  /** whether a member with this name is masked whole */
  matches(name: string): boolean;
  /** the masked form of a matched member's value (raw text as found); undefined = redact to null */
  whole(name: string, raw: string, isString: boolean): string | undefined;
}

/** From `p` at an opening quote: the index after the closing quote (or the text's end) and whether it closed. */
function stringEnd(src: string, p: number): { end: number; closed: boolean } {
  let i = p + 1;
  while (i < src.length) {
    const c = src.charCodeAt(i);
    if (c === 92) i += 2;
    else if (c === 34) return { end: i + 1, closed: true };
    else i++;
  }
  return { end: src.length, closed: false };
}

function decode(literal: string, closed: boolean): string {
  const body = closed ? literal : `${literal.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '')}"`;
  try {
    return JSON.parse(body) as string;
  } catch {
    return body.slice(1, -1);
  }
}

/** From `p` at a value's first character: the end of that value (bracket-matched, strings skipped). */
function valueEnd(src: string, p: number): number {
  const c = src.charCodeAt(p);
  if (c === 34) return stringEnd(src, p).end;
  if (c !== 123 && c !== 91) {
    let i = p;
    while (i < src.length && !/[,}\]\s]/.test(src[i]!)) i++;
    return i;
  }
  let depth = 0;
  let i = p;
  while (i < src.length) {
    const ch = src.charCodeAt(i);
    if (ch === 34) {
      i = stringEnd(src, i).end;
      continue;
    }
    if (ch === 123 || ch === 91) depth++;
    else if (ch === 125 || ch === 93) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return src.length;
}

export function maskLooseJson(src: string, hooks: LooseJsonHooks): string {
  let out = '';
  let from = 0;
  let i = 0;
  while (i < src.length) {
    if (src.charCodeAt(i) !== 34) {
      i++;
      continue;
    }
    const { end, closed } = stringEnd(src, i);
    const literal = src.slice(i, end);
    const value = decode(literal, closed);
    let j = end;
    while (j < src.length && /\s/.test(src[j]!)) j++;
    if (closed && src.charCodeAt(j) === 58) {
      // a member name
      const maskedName = hooks.name(value);
      if (maskedName !== value) {
        out += src.slice(from, i) + JSON.stringify(maskedName);
        from = end;
      }
      let v = j + 1;
      while (v < src.length && /\s/.test(src[v]!)) v++;
      if (v < src.length && hooks.matches(value)) {
        const vEnd = valueEnd(src, v);
        const isString = src.charCodeAt(v) === 34;
        const raw = isString ? decode(src.slice(v, vEnd), stringEnd(src, v).closed) : src.slice(v, vEnd);
        if (raw !== '' && raw !== 'null') {
          const masked = hooks.whole(value, raw, isString);
          out += src.slice(from, v) + (masked === undefined ? 'null' : JSON.stringify(masked));
          from = vEnd;
        }
        i = vEnd;
        continue;
      }
      i = end;
      continue;
    }
    const masked = hooks.string(value);
    if (masked !== value) {
      out += src.slice(from, i) + JSON.stringify(masked);
      from = end;
    }
    i = end;
  }
  return from === 0 ? src : out + src.slice(from);
}
