import { v7 as uuidv7 } from 'uuid';

/** A new event / alert id: UUIDv7, so ids sort by creation time (friendly to index and archive). */
export function newId(): string {
  return uuidv7();
}

/** The creation time (epoch ms) embedded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
