/**
 * A structural diff of a recorded JSON body against a replayed one that knows what the masker
 * did. Pure, and free of anything CLI (no commander, no I/O), so the console can show the same
 * diff (`@jwt-audit/cli/json-diff`).
 *
 * The recorded body went through the masker before it was indexed: a secret or personal value is
 * `[redacted:<rule>]` (a JSON member matched by a key word is redacted whole, objects and arrays
 * included), `hmac:<key id>:<32 hex>` (a pseudonym) or `****` + its last characters (partial), and
 * free text keeps its words around a masked run. A replayed value that fits the recorded one with
 * each mask standing for any text is not a difference: it cannot be compared, so it is listed as
 * `masked` instead. Everything else is diffed by jsondiffpatch (array items matched by their `id`
 * where they have one, so one inserted order is one `add`, not a cascade of `replace`s) and told as
 * RFC 6902 operations with JSON Pointer paths.
 */
import { create } from 'jsondiffpatch';
import { format as toJsonPatch } from 'jsondiffpatch/formatters/jsonpatch';

/** One mask as the masker writes it (packages/masking: mask.ts). */
const MASK_SOURCE = String.raw`\[redacted:[A-Za-z0-9_.:-]+\]|hmac:[A-Za-z0-9_-]+:[0-9a-f]{32}|\*{4}[^\s"',;&]{0,8}`;
const WHOLE_MASK = new RegExp(`^(?:${MASK_SOURCE})$`);
const ANY_MASK = new RegExp(MASK_SOURCE);

/** Whether a recorded text holds a mask (a value the masker replaced). */
export function hasMask(text: string): boolean {
  return ANY_MASK.test(text);
}

/** Whether a recorded value is a mask and nothing else (it may have stood for any JSON value). */
export function isWholeMask(value: unknown): boolean {
  return typeof value === 'string' && WHOLE_MASK.test(value);
}

const patternCache = new Map<string, RegExp>();

/**
 * Whether `actual` could be what the masker turned into `recorded`: the text around each mask
 * equal, each mask standing for a run without white space (what the detectors and key-word rules
 * replace: an address, a token, a number; a partial mask `****1234` for one ending in 1234). A
 * text that is one mask and nothing else stands for anything.
 */
export function fitsMasked(recorded: string, actual: string): boolean {
  if (!hasMask(recorded)) return recorded === actual;
  if (WHOLE_MASK.test(recorded)) return true;
  let re = patternCache.get(recorded);
  if (!re) {
    const global = new RegExp(MASK_SOURCE, 'g');
    let source = '';
    let last = 0;
    for (const m of recorded.matchAll(global)) {
      source += escapeRegExp(recorded.slice(last, m.index));
      // a partial mask keeps the value's last characters: those must still be there
      source += m[0].startsWith('****') ? `\\S*?${escapeRegExp(m[0].slice(4))}` : '\\S*?';
      last = m.index + m[0].length;
    }
    source += escapeRegExp(recorded.slice(last));
    re = new RegExp(`^${source}$`);
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(recorded, re);
  }
  return re.test(actual);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** An RFC 6901 JSON Pointer token. */
const pointerToken = (k: string | number) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');

export interface JsonDifference {
  /** RFC 6902 operation that turns the recorded body into the replayed one at this place. */
  op: 'add' | 'remove' | 'replace' | 'move';
  /** JSON Pointer (RFC 6901) into the replayed body; "" is the whole body. */
  path: string;
  /** `move`: where from. */
  from?: string;
  /** What was recorded there (absent for `add`). */
  recorded?: unknown;
  /** What the replay answered there (absent for `remove`). */
  replayed?: unknown;
}

export interface JsonDiff {
  /** No difference outside masked values. */
  equal: boolean;
  differences: JsonDifference[];
  /** JSON Pointers of recorded masked values the replayed body fits there: not compared. */
  masked: string[];
}

const differ = create({
  // Array items with an id (orders, users ...) are matched by it; others by position.
  objectHash: (item: object, index?: number) => {
    const id = (item as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? `id:${String(id)}` : `$$index:${index ?? 0}`;
  },
  arrays: { detectMove: false },
  // (the default build has no text diff: a changed string is one `replace`, not a character patch)
  cloneDiffValues: true,
});

/**
 * Replaces, in a copy of `actual`, each value that a recorded mask stands for with the recorded
 * mask itself (so the diff skips it), and lists where.
 */
function neutraliseMasks(recorded: unknown, actual: unknown, path: string, masked: string[]): unknown {
  if (typeof recorded === 'string' && (isWholeMask(recorded) || (hasMask(recorded) && typeof actual === 'string' && fitsMasked(recorded, actual)))) {
    if (isWholeMask(recorded) || typeof actual === 'string') {
      masked.push(path);
      return recorded;
    }
  }
  if (Array.isArray(recorded) && Array.isArray(actual)) {
    return actual.map((v, i) => (i < recorded.length ? neutraliseMasks(recorded[i], v, `${path}/${i}`, masked) : v));
  }
  if (isPlainObject(recorded) && isPlainObject(actual)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(actual))
      out[k] = Object.hasOwn(recorded, k) ? neutraliseMasks(recorded[k], v, `${path}/${pointerToken(k)}`, masked) : v;
    return out;
  }
  return actual;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function at(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(k)];
    else if (isPlainObject(cur)) cur = cur[k];
    else return undefined;
  }
  return cur;
}

/**
 * The structural difference between a recorded JSON value (as the masker left it) and a replayed
 * one. `differences` is in RFC 6902 order (applying them to the recorded value gives the replayed
 * one, masks aside), each with the recorded and the replayed value at its path.
 */
export function diffJson(recorded: unknown, replayed: unknown): JsonDiff {
  const masked: string[] = [];
  const comparable = neutraliseMasks(recorded, replayed, '', masked);
  const delta = differ.diff(recorded, comparable);
  if (delta === undefined) return { equal: true, differences: [], masked };
  const ops = toJsonPatch(delta);
  // The jsonpatch formatter gives the paths in the order it applies them; the recorded value of
  // a `replace`/`remove` is read from the recorded body, so it is looked up before any op runs
  // (jsondiffpatch orders removals last-index-first, so each path is still the original's).
  const differences = ops.map((o): JsonDifference => {
    const d: JsonDifference = { op: o.op, path: o.path };
    if (o.op === 'move') d.from = o.from;
    if (o.op === 'replace' || o.op === 'remove') d.recorded = at(recorded, o.path);
    if ('value' in o) d.replayed = o.value;
    return d;
  });
  return { equal: false, differences, masked };
}

/** One line per difference, for a terminal: `replace /orders/0/sku: "A-1001" -> "Z-9"`. */
export function describeDifference(d: JsonDifference, maxChars = 80): string {
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? 'undefined';
    return s.length > maxChars ? `${s.slice(0, maxChars - 1)}…` : s;
  };
  const where = d.path === '' ? '(whole body)' : d.path;
  switch (d.op) {
    case 'add':
      return `added ${where}: ${show(d.replayed)}`;
    case 'remove':
      return `removed ${where} (was ${show(d.recorded)})`;
    case 'replace':
      return `changed ${where}: ${show(d.recorded)} -> ${show(d.replayed)}`;
    default:
      return `${d.op} ${d.from ?? ''} -> ${where}`;
  }
}

/** One node of the side-by-side view: a member or item, with what became of it. */
export interface DiffNode {
  /** JSON Pointer of the node (in the recorded body, or the replayed one for an addition). */
  path: string;
  /** Member name or item index; null for the whole body. */
  key: string | number | null;
  status: 'same' | 'changed' | 'added' | 'removed' | 'masked' | 'contains-changes';
  /** Leaf values (absent for `added` / `removed` sides and for containers). */
  recorded?: unknown;
  replayed?: unknown;
  /** Members of an object / items of an array, in the recorded order, additions last. */
  children?: DiffNode[];
}

const hashOf = (v: unknown, i: number) => {
  const id = isPlainObject(v) ? v.id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? `id:${String(id)}` : `$$index:${i}`;
};

/**
 * The two bodies as one tree for a page to render (the console's session timeline): every member
 * with its status, masked values marked as such, array items paired by `id` where they have one
 * (as diffJson pairs them). Pure data; no markup.
 */
export function diffTree(recorded: unknown, replayed: unknown): DiffNode {
  const maskedPaths: string[] = [];
  const comparable = neutraliseMasks(recorded, replayed, '', maskedPaths);
  return node(recorded, comparable, '', null, new Set(maskedPaths));
}

function node(rec: unknown, rep: unknown, path: string, key: string | number | null, masked: Set<string>): DiffNode {
  if (masked.has(path)) return { path, key, status: 'masked', recorded: rec };
  if (Array.isArray(rec) && Array.isArray(rep)) {
    const byHash = new Map(rep.map((v, i) => [hashOf(v, i), i]));
    const used = new Set<number>();
    const children: DiffNode[] = rec.map((v, i) => {
      const j = byHash.get(hashOf(v, i));
      if (j === undefined) return leafSide(v, `${path}/${i}`, i, 'removed');
      used.add(j);
      return node(v, rep[j], `${path}/${i}`, i, masked);
    });
    rep.forEach((v, j) => {
      if (!used.has(j)) children.push(leafSide(v, `${path}/${j}`, j, 'added'));
    });
    return container(path, key, children);
  }
  if (isPlainObject(rec) && isPlainObject(rep)) {
    const children: DiffNode[] = [];
    for (const [k, v] of Object.entries(rec)) {
      const p = `${path}/${pointerToken(k)}`;
      children.push(Object.hasOwn(rep, k) ? node(v, rep[k], p, k, masked) : leafSide(v, p, k, 'removed'));
    }
    for (const [k, v] of Object.entries(rep)) if (!Object.hasOwn(rec, k)) children.push(leafSide(v, `${path}/${pointerToken(k)}`, k, 'added'));
    return container(path, key, children);
  }
  const same = differ.diff(rec, rep) === undefined;
  return { path, key, status: same ? 'same' : 'changed', recorded: rec, replayed: rep };
}

function leafSide(v: unknown, path: string, key: string | number, status: 'added' | 'removed'): DiffNode {
  return status === 'added' ? { path, key, status, replayed: v } : { path, key, status, recorded: v };
}

function container(path: string, key: string | number | null, children: DiffNode[]): DiffNode {
  return { path, key, status: children.every((c) => c.status === 'same' || c.status === 'masked') ? 'same' : 'contains-changes', children };
}
