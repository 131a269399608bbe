/**
 * Merkle trees as in RFC 6962 (certificate transparency), section 2.1:
 *   leaf hash  = SHA-256(0x00 || record bytes)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH of n > 1 leaves splits at k, the largest power of two smaller than n.
 * An inclusion proof (audit path) for leaf m of n is verified by recomputing the root (RFC 9162
 * 2.1.3.2), so a proof checks with the record, the path and the signed root alone.
 */
import { createHash } from 'node:crypto';

const sha = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export function leafHash(data: Buffer): Buffer {
  return sha(LEAF, data);
}

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function merkleRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return sha(NODE, merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

/** The audit path for leaf `m` (leaf hashes given), bottom to top. */
export function auditPath(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k ? [...auditPath(m, leaves.slice(0, k)), merkleRoot(leaves.slice(k))] : [...auditPath(m - k, leaves.slice(k)), merkleRoot(leaves.slice(0, k))];
}

/** RFC 9162 2.1.3.2: recomputes the root from a leaf hash, its index, the tree size and the path. */
export function rootFromPath(leaf: Buffer, index: number, size: number, path: Buffer[]): Buffer | undefined {
  if (index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = sha(NODE, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else r = sha(NODE, r, p);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? r : undefined;
}
