import type { FieldError } from '@jwt-audit/events';

/** RFC 9457 problem details. `type` URIs are stable and documented in the interceptor README. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  [k: string]: unknown;
}

const BASE = 'https://jwt-audit.dev/problems/';

export function problem(status: number, slug: string, title: string, detail?: string, extra: Record<string, unknown> = {}): Problem {
  return { type: `${BASE}${slug}`, title, status, ...(detail !== undefined ? { detail } : {}), ...extra };
}
