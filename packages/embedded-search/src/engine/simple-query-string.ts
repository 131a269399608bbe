/**
 * The simple_query_string syntax (Lucene's SimpleQueryParser), which never fails on its input:
 *   a + b (AND)   a | b (OR)   -a (NOT)   "a phrase"   prefix*   term~2 (fuzzy)   "phrase"~2 (slop)   ( )   \ escapes
 * Whitespace is the default operator. Operators are of equal precedence and group left to right,
 * as Lucene builds them: `a + b | c` is `(a AND b) OR c`, `a | b + c` is `(a OR b) AND c`; a
 * dangling operator, an unclosed group or quote is taken as far as it goes.
 */
export type SqsNode =
  | { type: 'and' | 'or'; children: SqsNode[] }
  | { type: 'not'; child: SqsNode }
  | { type: 'term'; value: string; prefix?: boolean; fuzzy?: number | 'auto' }
  | { type: 'phrase'; value: string; slop?: number };

export function parseSimpleQueryString(input: string, defaultOp: 'and' | 'or'): SqsNode | undefined {
  let i = 0;
  let depth = 0;
  // groups nest by recursion: past this depth a '(' is read as a space, so no input can exhaust the stack
  const MAX_DEPTH = 100;
  const group = (): SqsNode | undefined => {
    let current: SqsNode | undefined;
    let pending: 'and' | 'or' | undefined;
    let negate = false;
    const add = (n: SqsNode) => {
      const node: SqsNode = negate ? { type: 'not', child: n } : n;
      negate = false;
      const op = pending ?? defaultOp;
      pending = undefined;
      if (!current) current = node;
      else if ((current.type === 'and' || current.type === 'or') && current.type === op && !closed.has(current)) current.children.push(node);
      else {
        current = { type: op, children: [current, node] };
      }
    };
    // a parenthesised group is one operand: its own operator does not absorb what follows it
    const closed = new Set<SqsNode>();
    while (i < input.length) {
      const c = input[i]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        i++;
        continue;
      }
      if (c === '+') {
        pending = 'and';
        i++;
        continue;
      }
      if (c === '|') {
        pending = 'or';
        i++;
        continue;
      }
      if (c === '-' && !negate) {
        negate = true;
        i++;
        continue;
      }
      if (c === ')') {
        i++;
        break;
      }
      if (c === '(') {
        i++;
        if (depth >= MAX_DEPTH) continue;
        depth++;
        const inner = group();
        depth--;
        if (inner) {
          closed.add(inner);
          add(inner);
        }
        continue;
      }
      if (c === '"') {
        let j = i + 1;
        let v = '';
        while (j < input.length && input[j] !== '"') {
          if (input[j] === '\\' && j + 1 < input.length) j++;
          v += input[j++];
        }
        i = j + 1;
        let slop: number | undefined;
        const m = /^~(\d+)/.exec(input.slice(i));
        if (m) {
          slop = Number(m[1]);
          i += m[0].length;
        }
        add({ type: 'phrase', value: v, ...(slop !== undefined ? { slop } : {}) });
        continue;
      }
      let v = '';
      while (i < input.length && !' \t\n\r+|()"'.includes(input[i]!)) {
        if (input[i] === '\\' && i + 1 < input.length) {
          v += input[i + 1];
          i += 2;
          continue;
        }
        if (input[i] === '~') break;
        v += input[i++];
      }
      let fuzzy: number | 'auto' | undefined;
      if (input[i] === '~') {
        const m = /^~(\d*)/.exec(input.slice(i))!;
        fuzzy = m[1] ? Math.min(2, Number(m[1])) : 'auto';
        i += m[0].length;
      }
      if (v === '') continue;
      const prefix = v.endsWith('*') && !v.endsWith('\\*');
      add({ type: 'term', value: prefix ? v.slice(0, -1) : v, ...(prefix ? { prefix: true } : {}), ...(fuzzy !== undefined ? { fuzzy } : {}) });
    }
    return current;
  };
  return group();
}
