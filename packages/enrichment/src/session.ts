import { LRUCache } from 'lru-cache';
import type { AuditEvent } from '@jwt-audit/events';

/**
 * Remembers which session a refresh-token family belongs to, learned from events that carry both
 * (token.issued at login, refreshes that keep sid), so later events with only the family (a
 * refresh token presented without an sid claim) land in the same session. Bounded: the oldest
 * families are forgotten first. State is per enricher instance; a subject's events share a
 * partition, so they reach the same instance.
 */
export interface SessionIndex {
  get(familyId: string): string | undefined;
  set(familyId: string, sessionId: string): void;
}

export function createSessionIndex(max = 100_000): SessionIndex {
  // least recently written out first, as before lru-cache: a read (`peek`) does not refresh a family
  const m = new LRUCache<string, string>({ max });
  return {
    get: (f) => m.peek(f),
    set(f, sid) {
      if (m.peek(f) === sid) return;
      m.set(f, sid);
    },
  };
}

/** sid claim, else the session record's id, else the session learned for the family, else `rtf:<family>`. */
export function correlateSession(e: AuditEvent, index?: SessionIndex): string | null {
  const family = e.token?.familyId ?? null;
  const explicit = e.token?.sid ?? e.session?.id ?? null;
  if (explicit) {
    if (family) index?.set(family, explicit);
    return explicit;
  }
  if (!family) return null;
  return index?.get(family) ?? `rtf:${family}`;
}
