/**
 * Request framing (Kafka protocol guide): every request is `size INT32` followed by `size` bytes.
 * As Kafka's NetworkReceive does, the 4-byte size is read first and then one buffer of exactly
 * that size is allocated and filled in place as chunks arrive, so a 32 MiB frame costs one
 * allocation and one copy of each byte (repeated concatenation cost O(n^2) and stalled the
 * event loop for seconds). The size is bounded by `socket.request.max.bytes` before anything is
 * allocated, and the allocation itself waits for the caller (`needsBuffer` -> `allocate()`), so
 * the connection can first reserve the bytes from the broker-wide budget.
 */
import { RUNTIME_ERRORS } from '@jwt-audit/runtime';

export class FrameSizeError extends Error {
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`frame of ${size} bytes is outside 8..${max} (socket.request.max.bytes)`);
    this.name = 'FrameSizeError';
  }
}

/** The smallest request: api_key INT16, api_version INT16, correlation_id INT32. */
const MIN_FRAME = 8;

export class FrameReader {
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  private frame: Buffer | undefined;
  private fill = 0;
  /** The declared size of the frame being read, -1 while its size is still incomplete. */
  declared = -1;

  constructor(private readonly maxBytes: number) {}

  /** The size is known and valid but no buffer was allocated yet. */
  get needsBuffer(): boolean {
    return this.declared >= 0 && this.frame === undefined;
  }

  get complete(): boolean {
    return this.frame !== undefined && this.fill === this.frame.length;
  }

  allocate(): void {
    if (!this.needsBuffer) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create('allocate() without a declared frame');
    this.frame = Buffer.allocUnsafe(this.declared);
    this.fill = 0;
  }

  /**
   * Consumes bytes of `chunk` from `offset`; returns how many. Stops at the end of the size prefix
   * when no buffer is allocated yet, and at the end of a frame, so one frame is handled at a time.
   */
  feed(chunk: Buffer, offset: number): number {
    let used = 0;
    if (this.declared < 0) {
      const n = Math.min(4 - this.headerFill, chunk.length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + n);
      this.headerFill += n;
      used += n;
      if (this.headerFill < 4) return used;
      const size = this.header.readInt32BE(0);
      if (size < MIN_FRAME || size > this.maxBytes) throw new FrameSizeError(size, this.maxBytes);
      this.declared = size;
    }
    if (!this.frame || this.complete) return used;
    const n = Math.min(this.frame.length - this.fill, chunk.length - offset - used);
    chunk.copy(this.frame, this.fill, offset + used, offset + used + n);
    this.fill += n;
    return used + n;
  }

  /** The completed frame (without its size prefix); resets for the next one. */
  take(): Buffer {
    if (!this.complete) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create('take() before the frame is complete');
    const f = this.frame!;
    this.frame = undefined;
    this.fill = 0;
    this.headerFill = 0;
    this.declared = -1;
    return f;
  }
}
