/**
 * A minimal MaxMind DB (format 2.0) writer for tests: no writer is published on npm that we
 * could use, and the format is small. https://maxmind.github.io/MaxMind-DB/
 *
 *   search tree   node_count nodes of two 32-bit big-endian records (left = bit 0, right = bit 1);
 *                 a record < node_count points to a node, == node_count means "no data",
 *                 > node_count points into the data section at (record - node_count - 16)
 *   16 zero bytes (data section separator)
 *   data section  values in the MaxMind DB data format: a control byte (type in the top 3 bits,
 *                 size in the low 5: <29 literal, 29/30/31 = 1/2/3 more bytes of size), an extra
 *                 type byte for extended types (type 0: next byte + 7)
 *   "\xAB\xCD\xEFMaxMind.com" then the metadata map
 * IPv6 tree only (ip_version 6); IPv4 networks go in at ::a.b.c.d/(96 + prefix), which is where
 * readers look for IPv4 addresses. Networks must not overlap.
 */
import ipaddr from 'ipaddr.js';

type Value = string | number | boolean | Value[] | { [k: string]: Value } | { uint64: bigint };

const T = { string: 2, double: 3, uint16: 5, uint32: 6, map: 7, uint64: 9, array: 11, boolean: 14 };

function control(type: number, size: number): Buffer {
  const extended = type > 7;
  const head: number[] = [];
  let sizeBits: number;
  const extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    extra.push(size - 29);
  } else if (size < 285 + 65_536) {
    sizeBits = 30;
    const s = size - 285;
    extra.push(s >> 8, s & 0xff);
  } else {
    sizeBits = 31;
    const s = size - 65_821;
    extra.push((s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff);
  }
  head.push(((extended ? 0 : type) << 5) | sizeBits);
  if (extended) head.push(type - 7);
  return Buffer.from([...head, ...extra]);
}

function uint(type: number, n: bigint): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

export function encodeValue(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(T.string, b.length), b]);
  }
  if (typeof v === 'boolean') return control(T.boolean, v ? 1 : 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) return uint(T.uint32, BigInt(v));
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([control(T.double, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(T.array, v.length), ...v.map(encodeValue)]);
  if ('uint64' in v && typeof v.uint64 === 'bigint') return uint(T.uint64, v.uint64);
  const entries = Object.entries(v as Record<string, Value>);
  return Buffer.concat([control(T.map, entries.length), ...entries.flatMap(([k, x]) => [encodeValue(k), encodeValue(x)])]);
}

function bitsOf(cidr: string): boolean[] {
  const [addr, len] = ipaddr.parseCIDR(cidr);
  const bytes = addr.kind() === 'ipv4' ? [...new Array<number>(12).fill(0), ...addr.toByteArray()] : addr.toByteArray();
  const prefix = addr.kind() === 'ipv4' ? 96 + len : len;
  const bits: boolean[] = [];
  for (let i = 0; i < prefix; i++) bits.push(((bytes[i >> 3]! >> (7 - (i & 7))) & 1) === 1);
  return bits;
}

/** Builds a database mapping each CIDR to its record. */
export function buildMmdb(networks: Record<string, Value>, databaseType = 'Test-City'): Buffer {
  type Rec = { node: number } | { data: number } | null;
  const nodes: [Rec, Rec][] = [[null, null]];
  const chunks: Buffer[] = [];
  let dataSize = 0;
  for (const [cidr, value] of Object.entries(networks)) {
    const bits = bitsOf(cidr);
    if (bits.length === 0) throw new Error('a /0 network is not supported');
    const encoded = encodeValue(value);
    const offset = dataSize;
    chunks.push(encoded);
    dataSize += encoded.length;
    let n = 0;
    for (let i = 0; i < bits.length; i++) {
      const side = bits[i] ? 1 : 0;
      const rec = nodes[n]![side];
      if (i === bits.length - 1) {
        if (rec) throw new Error(`${cidr} overlaps another network`);
        nodes[n]![side] = { data: offset };
      } else if (rec && 'node' in rec) n = rec.node;
      else if (rec) throw new Error(`${cidr} overlaps another network`);
      else {
        nodes.push([null, null]);
        nodes[n]![side] = { node: nodes.length - 1 };
        n = nodes.length - 1;
      }
    }
  }
  const count = nodes.length;
  const tree = Buffer.alloc(count * 8);
  const value = (r: Rec) => (r === null ? count : 'node' in r ? r.node : count + 16 + r.data);
  nodes.forEach(([l, r], i) => {
    tree.writeUInt32BE(value(l), i * 8);
    tree.writeUInt32BE(value(r), i * 8 + 4);
  });
  const metadata = encodeValue({
    node_count: count,
    record_size: 32,
    ip_version: 6,
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: { uint64: 1_700_000_000n },
    description: { en: 'jwt-audit test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...chunks, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'), metadata]);
}
