/**
 * The broker-wide bound on requests being held in memory, the analogue of Kafka's
 * `queued.max.requests` (requests received and not yet answered) and `queued.max.request.bytes`
 * (the memory pool request buffers are allocated from). A connection reserves a frame's bytes
 * before allocating it; when the budget is spent it stops reading (is muted, as Kafka mutes a
 * channel under memory pressure) and is woken in arrival order when others release theirs. One
 * frame is always admitted when nothing is reserved, so a frame larger than the pool (but within
 * socket.request.max.bytes) still gets through instead of waiting forever.
 */
export class RequestBudget {
  private bytes = 0;
  private requests = 0;
  private readonly waiting: { size: number; wake: () => void }[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly maxRequests: number,
  ) {}

  private fits(size: number): boolean {
    if (this.requests === 0) return true;
    return this.bytes + size <= this.maxBytes && this.requests < this.maxRequests;
  }

  /** Reserves now (true), or queues `wake` to be called once the reservation was made for it (false). */
  reserve(size: number, wake: () => void): boolean {
    if (this.waiting.length === 0 && this.fits(size)) {
      this.bytes += size;
      this.requests++;
      return true;
    }
    this.waiting.push({ size, wake });
    return false;
  }

  /** Drops a queued reservation (its connection closed before it was woken). */
  cancel(wake: () => void): void {
    const i = this.waiting.findIndex((w) => w.wake === wake);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  release(size: number): void {
    this.bytes -= size;
    this.requests--;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.size)) {
      const next = this.waiting.shift()!;
      this.bytes += next.size;
      this.requests++;
      next.wake();
    }
  }

  get stats(): { reservedBytes: number; inFlightRequests: number; waitingConnections: number } {
    return { reservedBytes: this.bytes, inFlightRequests: this.requests, waitingConnections: this.waiting.length };
  }
}
