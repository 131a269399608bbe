// Minimal declarations for the two pure-JS codec packages without their own types.
declare module 'snappyjs' {
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Uint8Array): Uint8Array;
}
declare module 'lz4js' {
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
  /** The frame's content size if it declares one, else its blocks times the frame's block maximum. */
  export function decompressBound(src: Uint8Array): number;
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
}
declare module 'lz4js/xxh32.js' {
  /** XXH32 of src[index, index + len) with the seed. */
  export function hash(seed: number, src: Uint8Array, index: number, len: number): number;
}
