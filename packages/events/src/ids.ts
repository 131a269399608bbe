import { pooledRandomBytes } from '@jwt-audit/runtime';
import { v7 as uuidv7 } from 'uuid';

// uuid refills a 256-byte pool (one randomFillSync per 16 ids); that call was a visible share of
// an interceptor request (two ids each), so the bytes come from the runtime's larger pool. The
// sequence below is uuid's own monotonic v7 state (updateV7State), kept here because passing our
// random bytes to v7() bypasses its internal state.
const state = { msecs: -Infinity, seq: 0 };

/** A new event / alert id: UUIDv7, so ids sort by creation time (friendly to index and archive). */
export function newId(): string {
  const random = pooledRandomBytes(16);
  const now = Date.now();
  if (now > state.msecs) {
    state.seq = (random[6]! << 23) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    state.msecs = now;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs++;
  }
  return uuidv7({ random, msecs: state.msecs, seq: state.seq });
}

/** The creation time (epoch ms) embedded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
