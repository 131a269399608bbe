/**
 * Masks a JSON document in one pass over its text, without building it as objects and without
 * serialising it again: `JSON.parse` + a walk that copies every object + `JSON.stringify` was
 * about half of the time spent masking an event's JSON body (bench/ of services/masker).
 *
 * The scan is a strict JSON parser (RFC 8259: the grammar `JSON.parse` accepts, nothing more),
 * so anything `JSON.parse` would refuse is refused here too (JsonSyntaxError), and the caller
 * masks the body as text instead. It is recursive like the walk it replaces: a document nested
 * too deep to scan throws a RangeError and is masked as text as well.
 *
 * What comes out: every string value goes through `hooks.string`; a member whose name the
 * policy matches is masked whole by `hooks.whole` (a string as it is, any other value as its
 * `JSON.stringify` form) or dropped. A value that changed is written as `JSON.stringify` writes
 * it; everything else (members, separators, whitespace, escapes) is kept as it came.
 * Returns null when nothing changed.
 */
export interface JsonMaskHooks {
  /** The masked form of a string value, or the same string when nothing was found. */
  string(value: string): string;
  /** Whether a member with this name is masked whole (the value is then not walked). */
  matches(name: string): boolean;
  /**
   * The masked form of a matched member's value: `raw` is the string itself or the JSON of any
   * other value (`isString` tells which). The same string = keep; undefined = drop the member.
   */
  whole(name: string, raw: string, isString: boolean): string | undefined;
  /** The masked form of a member name (a secret used as a key); the same name when nothing was found. */
  name?(name: string): string;
}

/** Deeper than this the document is refused (JsonDepthError) and masked by the loose scanner. */
export const MAX_JSON_DEPTH = 256;
export class JsonDepthError extends Error {}

export class JsonSyntaxError extends Error {}

const enum C {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Quote = 34,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Slash = 47,
  D0 = 48,
  D1 = 49,
  D9 = 57,
  Colon = 58,
  UpperE = 69,
  OpenBracket = 91,
  Backslash = 92,
  CloseBracket = 93,
  LowerE = 101,
  LowerF = 102,
  LowerN = 110,
  LowerT = 116,
  LowerU = 117,
  OpenBrace = 123,
  CloseBrace = 125,
}

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

export function maskJson(src: string, hooks: JsonMaskHooks): string | null {
  return new Scanner(src, hooks).document();
}

/**
 * A class rather than closures: the services run under tsx, whose keepNames transform wraps
 * every named closure in a defineProperty call each time it is created (measured: 5x slower
 * when the scanner's helpers were closures made per document).
 */
class Scanner {
  private p = 0;
  /** Set by scanString: whether the string just scanned had an escape (needs decoding). */
  private escaped = false;

  constructor(
    private readonly src: string,
    private readonly hooks: JsonMaskHooks,
  ) {}

  private depth = 0;

  document(): string | null {
    this.ws();
    const start = this.p;
    const out = this.value(true);
    const end = this.p;
    this.ws();
    if (this.p !== this.src.length) this.fail();
    return out === null ? null : this.src.slice(0, start) + out + this.src.slice(end);
  }

  private fail(): never {
    throw new JsonSyntaxError(`invalid JSON at ${this.p}`);
  }

  private ws(): void {
    const src = this.src;
    let p = this.p;
    for (;;) {
      const c = src.charCodeAt(p);
      if (c === C.Space || c === C.Lf || c === C.Cr || c === C.Tab) p++;
      else break;
    }
    this.p = p;
  }

  /** p at the opening quote; leaves p after the closing quote. */
  private scanString(): void {
    const src = this.src;
    let p = this.p + 1;
    this.escaped = false;
    for (;;) {
      const c = src.charCodeAt(p);
      if (c === C.Quote) break;
      if (c === C.Backslash) {
        this.escaped = true;
        const e = src.charCodeAt(p + 1);
        if (e === C.LowerU) {
          if (!(isHex(src.charCodeAt(p + 2)) && isHex(src.charCodeAt(p + 3)) && isHex(src.charCodeAt(p + 4)) && isHex(src.charCodeAt(p + 5)))) {
            this.p = p;
            this.fail();
          }
          p += 6;
        } else if (e === C.Quote || e === C.Backslash || e === C.Slash || e === 98 || e === C.LowerF || e === C.LowerN || e === 114 || e === C.LowerT) p += 2;
        else {
          this.p = p;
          this.fail();
        }
      } else if (c < 0x20 || Number.isNaN(c)) {
        // a control character, or the end of the text
        this.p = p;
        this.fail();
      } else p++;
    }
    this.p = p + 1;
  }

  private stringAt(start: number, end: number): string {
    return this.escaped ? (JSON.parse(this.src.slice(start, end)) as string) : this.src.slice(start + 1, end - 1);
  }

  private digits(): void {
    const src = this.src;
    const s = this.p;
    let p = s;
    for (let c = src.charCodeAt(p); c >= C.D0 && c <= C.D9; c = src.charCodeAt(++p));
    this.p = p;
    if (p === s) this.fail();
  }

  private number(): void {
    const src = this.src;
    if (src.charCodeAt(this.p) === C.Minus) this.p++;
    const c = src.charCodeAt(this.p);
    if (c === C.D0) this.p++;
    else if (c >= C.D1 && c <= C.D9) this.digits();
    else this.fail();
    if (src.charCodeAt(this.p) === C.Dot) {
      this.p++;
      this.digits();
    }
    const e = src.charCodeAt(this.p);
    if (e === C.LowerE || e === C.UpperE) {
      this.p++;
      const sign = src.charCodeAt(this.p);
      if (sign === C.Plus || sign === C.Minus) this.p++;
      this.digits();
    }
  }

  private literal(word: string): void {
    if (!this.src.startsWith(word, this.p)) this.fail();
    this.p += word.length;
  }

  /** Scans one value; returns its masked text, or null when it is unchanged. `walk` false: validate only. */
  private value(walk: boolean): string | null {
    const c = this.src.charCodeAt(this.p);
    if (c === C.Quote) {
      const start = this.p;
      this.scanString();
      if (!walk) return null;
      const s = this.stringAt(start, this.p);
      const masked = this.hooks.string(s);
      return masked === s ? null : JSON.stringify(masked);
    }
    if (c === C.OpenBrace || c === C.OpenBracket) {
      // bounded, so a hostile document cannot exhaust the stack: the caller masks it loosely
      if (++this.depth > MAX_JSON_DEPTH) throw new JsonDepthError(`JSON nested deeper than ${MAX_JSON_DEPTH}`);
      const r = c === C.OpenBrace ? this.object(walk) : this.array(walk);
      this.depth--;
      return r;
    }
    if (c === C.LowerT) this.literal('true');
    else if (c === C.LowerF) this.literal('false');
    else if (c === C.LowerN) this.literal('null');
    else this.number();
    return null;
  }

  private object(walk: boolean): string | null {
    const src = this.src;
    const open = this.p;
    this.p++;
    this.ws();
    if (src.charCodeAt(this.p) === C.CloseBrace) {
      this.p++;
      return null;
    }
    // Built only once something changed: the unchanged stretch src[from..] is copied lazily.
    let out: string | null = null;
    let from = open;
    /** End (in src) of the last member that is kept, -1 before the first. */
    let lastKeptEnd = -1;
    /** The members so far were all dropped: the next member starts the output again. */
    let leadingDropped = false;
    for (;;) {
      if (src.charCodeAt(this.p) !== C.Quote) this.fail();
      const keyStart = this.p;
      this.scanString();
      const keyEnd = this.p;
      if (leadingDropped) {
        from = keyStart; // drop the separator that followed the dropped member(s)
        leadingDropped = false;
      }
      const name = walk ? this.stringAt(keyStart, keyEnd) : '';
      const renamed = walk && this.hooks.name ? this.hooks.name(name) : name;
      this.ws();
      if (src.charCodeAt(this.p) !== C.Colon) this.fail();
      this.p++;
      this.ws();
      const valueStart = this.p;
      let replacement: string | null | undefined; // null: unchanged, undefined: dropped
      if (walk && src.charCodeAt(valueStart) !== C.LowerN && this.hooks.matches(name)) {
        const isString = src.charCodeAt(valueStart) === C.Quote;
        this.value(false);
        const span = src.slice(valueStart, this.p);
        const raw = isString ? this.stringAt(valueStart, this.p) : JSON.stringify(JSON.parse(span));
        const masked = this.hooks.whole(name, raw, isString);
        replacement = masked === undefined ? undefined : masked === raw && isString ? null : JSON.stringify(masked);
      } else replacement = this.value(walk);
      const valueEnd = this.p;
      if (replacement === undefined) {
        // dropped: with the separator before it, or (first kept position) the one after it
        if (lastKeptEnd >= 0) out = (out ?? '') + src.slice(from, lastKeptEnd);
        else {
          out = (out ?? '') + src.slice(from, keyStart);
          leadingDropped = true;
        }
        from = valueEnd;
      } else {
        if (renamed !== name) {
          out = (out ?? '') + src.slice(from, keyStart) + JSON.stringify(renamed);
          from = keyEnd;
        }
        if (replacement !== null) {
          out = (out ?? '') + src.slice(from, valueStart) + replacement;
          from = valueEnd;
        }
        lastKeptEnd = valueEnd;
      }
      this.ws();
      const next = src.charCodeAt(this.p);
      if (next === C.Comma) {
        this.p++;
        this.ws();
        continue;
      }
      if (next !== C.CloseBrace) this.fail();
      this.p++;
      return out === null ? null : out + src.slice(from, this.p);
    }
  }

  private array(walk: boolean): string | null {
    const src = this.src;
    const open = this.p;
    this.p++;
    this.ws();
    if (src.charCodeAt(this.p) === C.CloseBracket) {
      this.p++;
      return null;
    }
    let out: string | null = null;
    let from = open;
    for (;;) {
      const start = this.p;
      const replacement = this.value(walk);
      if (replacement !== null) {
        out = (out ?? '') + src.slice(from, start) + replacement;
        from = this.p;
      }
      this.ws();
      const next = src.charCodeAt(this.p);
      if (next === C.Comma) {
        this.p++;
        this.ws();
        continue;
      }
      if (next !== C.CloseBracket) this.fail();
      this.p++;
      return out === null ? null : out + src.slice(from, this.p);
    }
  }
}
