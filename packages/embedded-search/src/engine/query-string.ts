/**
 * The query_string syntax (Lucene classic), the part people type into Kibana's search bar:
 *   field:value   field:"a phrase"   field:(a OR b)   "phrase"   wild*card?
 *   a AND b, a && b, a OR b, a || b, NOT a, !a, +required, -prohibited, (grouping)
 *   field:[1 TO 5]  field:{a TO b}  field:[2024-01-01 TO now-1d/d]  field:>=10  field:<5  _exists_:field
 * Juxtaposed clauses (`a b`) combine with the default operator. Precedence: OR < AND < NOT.
 */
import { parsingError } from '../errors.js';

export type QsNode =
  | { type: 'and'; children: QsNode[] }
  | { type: 'or'; children: QsNode[] }
  | { type: 'not'; child: QsNode }
  | { type: 'group'; children: { occur: 'must' | 'should' | 'must_not'; node: QsNode }[] }
  | { type: 'term'; field?: string; value: string; phrase: boolean; regex?: boolean }
  | { type: 'range'; field?: string; from?: string; to?: string; includeFrom: boolean; includeTo: boolean };

type Tok =
  | { t: 'word'; v: string }
  | { t: 'phrase'; v: string }
  | { t: 'regex'; v: string }
  | { t: 'field'; v: string }
  | { t: 'range'; from: string; to: string; incFrom: boolean; incTo: boolean }
  | { t: 'cmp'; op: string; v: string }
  | { t: '(' }
  | { t: ')' }
  | { t: 'AND' }
  | { t: 'OR' }
  | { t: 'NOT' }
  | { t: '+' }
  | { t: '-' };

// '/' ends a term and starts a regular expression, as in Lucene (so url.path:/api/orders is the
// regex /api/ then the term orders, and an unquoted CIDR is an unterminated regex)
const SPECIAL = new Set([' ', '\t', '\n', '(', ')', '"', ':', '/']);

function tokenize(input: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const err = (msg: string) => parsingError(`Failed to parse query [${input}]: ${msg}`, { caused_by: { type: 'parse_exception', reason: msg } });
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let v = '';
      while (j < input.length && input[j] !== '"') {
        if (input[j] === '\\' && j + 1 < input.length) j++;
        v += input[j++];
      }
      if (j >= input.length) throw err('unterminated quoted string');
      out.push({ t: 'phrase', v });
      i = j + 1;
      continue;
    }
    if (c === '/') {
      let j = i + 1;
      let v = '';
      while (j < input.length && input[j] !== '/') {
        if (input[j] === '\\' && j + 1 < input.length) v += input[j++];
        v += input[j++];
      }
      if (j >= input.length) throw err(`Lexical error at line 1, column ${input.length + 1}.  Encountered: <EOF> after prefix "${input.slice(i)}"`);
      out.push({ t: 'regex', v });
      i = j + 1;
      continue;
    }
    if (c === '[' || c === '{') {
      const close = input.slice(i).search(/[\]}]/);
      if (close < 0) throw err('unterminated range');
      const inner = input.slice(i + 1, i + close).trim();
      const m = /^(\S+)\s+TO\s+(\S+)$/.exec(inner);
      if (!m) throw err(`malformed range [${inner}]`);
      out.push({ t: 'range', from: m[1]!, to: m[2]!, incFrom: c === '[', incTo: input[i + close] === ']' });
      i += close + 1;
      continue;
    }
    if (input.startsWith('&&', i)) {
      out.push({ t: 'AND' });
      i += 2;
      continue;
    }
    if (input.startsWith('||', i)) {
      out.push({ t: 'OR' });
      i += 2;
      continue;
    }
    if (
      (c === '+' || c === '-' || c === '!') &&
      (out.length === 0 || ['(', 'AND', 'OR', 'NOT', '+', '-', 'word', 'phrase', 'regex', ')', 'range', 'cmp'].includes(out[out.length - 1]!.t)) &&
      i + 1 < input.length &&
      input[i + 1] !== ' '
    ) {
      out.push(c === '!' ? { t: 'NOT' } : { t: c });
      i++;
      continue;
    }
    if ((c === '>' || c === '<') && out.length > 0 && out[out.length - 1]!.t === 'field') {
      const op = input[i + 1] === '=' ? `${c}=` : c;
      i += op.length;
      let v = '';
      while (i < input.length && !SPECIAL.has(input[i]!)) v += input[i++];
      out.push({ t: 'cmp', op, v });
      continue;
    }
    let v = '';
    while (i < input.length && !SPECIAL.has(input[i]!)) {
      if (input[i] === '\\' && i + 1 < input.length) {
        v += input[i + 1];
        i += 2;
        continue;
      }
      v += input[i++];
    }
    if (input[i] === ':') {
      if (!v) throw err('a field name is missing before [:]');
      out.push({ t: 'field', v });
      i++;
      continue;
    }
    if (v === 'AND' || v === 'OR' || v === 'NOT') out.push({ t: v });
    else if (v) out.push({ t: 'word', v });
    else throw err(`unexpected character [${input[i]}]`);
  }
  return out;
}

export function parseQueryString(input: string, op: 'and' | 'or' = 'or'): QsNode {
  const toks = tokenize(input);
  let p = 0;
  const err = (msg: string) => parsingError(`Failed to parse query [${input}]: ${msg}`);
  const peek = () => toks[p];

  /**
   * One level of clauses with Lucene's classic occur rules (QueryParser.addClause): AND makes the
   * clause before it and the one after it required, OR under default operator AND makes them
   * optional, +/- and NOT mark one clause; so `a OR b AND c` is `a +b +c`, not `a OR (b AND c)`.
   */
  // groups nest by recursion: Lucene's own parser has no limit and overflows its stack (Elasticsearch
  // 8.12.2 exits on a query_string of a few thousand nested parentheses); past this depth it is a parse error
  let depth = 0;
  function clauses(field?: string): QsNode {
    if (++depth > 200) throw err('groups nested deeper than 200');
    try {
      return clausesAt(field);
    } finally {
      depth--;
    }
  }
  function clausesAt(field?: string): QsNode {
    const items: { occur: 'must' | 'should' | 'must_not'; node: QsNode }[] = [];
    let conj: 'AND' | 'OR' | undefined;
    while (p < toks.length && peek()!.t !== ')') {
      const t = peek()!;
      if (t.t === 'AND' || t.t === 'OR') {
        if (items.length === 0 || conj !== undefined) throw err(`unexpected [${t.t}]`);
        conj = t.t;
        p++;
        continue;
      }
      let mods: '+' | '-' | undefined;
      if (t.t === '+') {
        mods = '+';
        p++;
      } else if (t.t === '-' || t.t === 'NOT') {
        mods = '-';
        p++;
      }
      const node = primary(field);
      const prev = items[items.length - 1];
      if (prev && prev.occur !== 'must_not') {
        if (conj === 'AND') prev.occur = 'must';
        else if (conj === 'OR' && op === 'and') prev.occur = 'should';
      }
      const occur = mods === '-' ? 'must_not' : op === 'or' ? (mods === '+' || conj === 'AND' ? 'must' : 'should') : conj !== 'OR' ? 'must' : 'should';
      items.push({ occur, node });
      conj = undefined;
    }
    if (conj !== undefined || items.length === 0) throw err(p < toks.length ? `unexpected [${peek()!.t}]` : 'unexpected end of query');
    if (items.length === 1 && items[0]!.occur !== 'must_not') return items[0]!.node;
    return { type: 'group', children: items };
  }
  function primary(field?: string): QsNode {
    const t = toks[p++];
    if (!t) throw err('unexpected end of query');
    switch (t.t) {
      case '(': {
        const inner = clauses(field);
        if (toks[p++]?.t !== ')') throw err('missing [)]');
        return inner;
      }
      case 'field': {
        const f = t.v;
        const next = peek();
        if (!next) throw err(`missing value for field [${f}]`);
        if (f === '_exists_') {
          p++;
          if (next.t !== 'word') throw err('_exists_ needs a field name');
          return { type: 'term', field: next.v, value: '*', phrase: false };
        }
        if (next.t === '(') {
          p++;
          const inner = clauses(f);
          if (toks[p++]?.t !== ')') throw err('missing [)]');
          return inner;
        }
        return primary(f);
      }
      case 'word':
        return { type: 'term', ...(field ? { field } : {}), value: t.v, phrase: false };
      case 'phrase':
        return { type: 'term', ...(field ? { field } : {}), value: t.v, phrase: true };
      case 'regex':
        return { type: 'term', ...(field ? { field } : {}), value: t.v, phrase: false, regex: true };
      case 'range':
        return { type: 'range', ...(field ? { field } : {}), from: t.from, to: t.to, includeFrom: t.incFrom, includeTo: t.incTo };
      case 'cmp': {
        const lower = t.op.startsWith('>');
        return lower
          ? { type: 'range', ...(field ? { field } : {}), from: t.v, to: '*', includeFrom: t.op === '>=', includeTo: true }
          : { type: 'range', ...(field ? { field } : {}), from: '*', to: t.v, includeFrom: true, includeTo: t.op === '<=' };
      }
      default:
        throw err(`unexpected [${t.t}]`);
    }
  }

  if (toks.length === 0) return { type: 'term', value: '*', phrase: false };
  const node = clauses();
  if (p < toks.length) throw err(`unexpected [${toks[p]!.t}]`);
  return node;
}
