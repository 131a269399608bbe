/**
 * `_field_caps`: each field's type per index and whether it is searchable and aggregatable, in
 * Elasticsearch 8's shape (Kibana builds its data views from it). Parent objects of a returned
 * field are returned too; a field with one type everywhere lists no indices, one with several
 * types (or `unmapped`, with include_unmapped) lists the indices of each.
 */
import { isSearchable, kindOf, type IndexEngine } from './index-engine.js';
import { wildcardRegExp } from './query.js';

interface Caps {
  type: string;
  metadata_field: boolean;
  searchable: boolean;
  aggregatable: boolean;
}

/** Metadata fields every Elasticsearch 8.12 index has, with the capabilities it reports for them. */
const METADATA: [string, string, boolean, boolean][] = [
  ['_routing', '_routing', true, false],
  ['_doc_count', 'integer', false, false],
  ['_index', '_index', true, true],
  ['_feature', '_feature', false, false],
  ['_tier', 'keyword', true, true],
  ['_ignored', '_ignored', true, false],
  ['_seq_no', '_seq_no', true, true],
  ['_nested_path', '_nested_path', true, false],
  ['_field_names', '_field_names', true, false],
  ['_data_stream_timestamp', '_data_stream_timestamp', false, false],
  ['_source', '_source', false, false],
  ['_id', '_id', true, false],
  ['_version', '_version', false, true],
];

function capsOf(engine: IndexEngine): Map<string, Caps> {
  const out = new Map<string, Caps>();
  for (const [name, type, searchable, aggregatable] of METADATA) out.set(name, { type, metadata_field: true, searchable, aggregatable });
  for (const name of engine.fieldNames()) {
    const m = engine.field(name)!;
    // match_only_text is a text field to every client (Elasticsearch reports it as text)
    const type = m.type === 'match_only_text' ? 'text' : (m.type ?? 'object');
    if (type === 'object') continue;
    const kind = kindOf(type);
    const aggregatable = kind === 'text' ? m.fielddata === true : m.doc_values !== false || kind === 'flattened';
    out.set(name, { type, metadata_field: false, searchable: isSearchable(m), aggregatable });
    // every parent of a leaf is an object (a multi-field's parent is its field, already listed)
    if (m.__parent === undefined) {
      const parts = name.split('.');
      for (let i = 1; i < parts.length; i++) {
        const p = parts.slice(0, i).join('.');
        if (!out.has(p)) out.set(p, { type: 'object', metadata_field: false, searchable: false, aggregatable: false });
      }
    }
  }
  return out;
}

export function fieldCaps(
  targets: { index: string; engine: IndexEngine }[],
  patterns: string[],
  includeUnmapped: boolean,
  types?: string[],
): Record<string, unknown> {
  const res = patterns.map((p) => wildcardRegExp(p.trim(), false));
  const perIndex = targets.map((t) => ({ index: t.index, caps: capsOf(t.engine) }));
  const wanted = (name: string, c: Caps) => (!types || types.includes(c.type)) && (c.metadata_field ? res.some((r) => r.test(name)) : true);
  const selected = new Map<string, Map<string, string[]>>(); // field -> type -> indices
  const capsByType = new Map<string, Caps>();
  for (const { index, caps } of perIndex) {
    const names = new Set<string>();
    for (const [name, c] of caps) {
      if (!res.some((r) => r.test(name)) || !wanted(name, c)) continue;
      names.add(name);
      // parents of a matching leaf come along
      if (!c.metadata_field && c.type !== 'object') {
        const parts = name.split('.');
        for (let i = 1; i < parts.length; i++) {
          const p = parts.slice(0, i).join('.');
          const pc = caps.get(p);
          if (pc?.type === 'object') names.add(p);
        }
      }
    }
    for (const name of names) {
      const c = caps.get(name)!;
      const byType = selected.get(name) ?? new Map<string, string[]>();
      selected.set(name, byType);
      const list = byType.get(c.type) ?? [];
      list.push(index);
      byType.set(c.type, list);
      capsByType.set(`${name}\u0000${c.type}`, c);
    }
  }
  const indices = targets.map((t) => t.index).sort();
  const fields: Record<string, Record<string, unknown>> = {};
  for (const [name, byType] of selected) {
    if (includeUnmapped) {
      const mapped = new Set([...byType.values()].flat());
      const unmapped = indices.filter((i) => !mapped.has(i));
      if (unmapped.length > 0) byType.set('unmapped', unmapped);
    }
    const several = byType.size > 1;
    const entry: Record<string, unknown> = {};
    for (const [type, list] of byType) {
      const c = capsByType.get(`${name}\u0000${type}`) ?? { type: 'unmapped', metadata_field: false, searchable: false, aggregatable: false };
      entry[type] = { ...c, ...(several ? { indices: [...list].sort() } : {}) };
    }
    fields[name] = entry;
  }
  return { indices, fields };
}
