import { format } from 'node:util';

/**
 * The base of every error the project throws on purpose. A stable `code` (AUDIT_ERR_*) that logs,
 * metrics, DLQ records and HTTP problem documents carry; `retriable` decides between backing off
 * and dead-lettering; `cause` keeps what was thrown underneath.
 */
export class AuditError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** One catalogue entry, as written in a package's errors.ts. */
export interface ErrorSpec {
  /** The message; each `%s` is filled by create()'s arguments in order (node's util.format). */
  message: string;
  /** Back off and try again (true), or dead-letter / give up (false, the default). */
  retriable?: boolean;
  /** For a code that answers an HTTP request: its status ... */
  status?: number;
  /** ... and its RFC 9457 problem type URI. */
  type?: string;
}

/** A defined code: what it means, and the one way to make an error carrying it. */
export interface ErrorDefinition {
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
  readonly status?: number;
  readonly type?: string;
  /** An AuditError with this code, its message filled with `args`. */
  create(...args: unknown[]): AuditError;
  /** The same, keeping `cause` (what was thrown underneath). */
  wrap(cause: unknown, ...args: unknown[]): AuditError;
  /** Whether err carries this code. */
  is(err: unknown): err is AuditError;
}

const CODE = /^AUDIT_ERR_[A-Z0-9_]+$/;

/**
 * A package's error catalogue (fastify's createError, as a table): each AUDIT_ERR_* code is
 * defined once, in the package's errors.ts, with its message, `retriable` flag and, for HTTP, its
 * status and problem type; call sites use `<PACKAGE>_ERRORS.<code>.create(...)`, never the literal code.
 * The keys are the codes, so a grep for a code finds its definition and every use.
 */
export function defineErrors<const K extends string>(specs: { [C in K]: ErrorSpec }): { readonly [C in K]: ErrorDefinition } {
  const out = {} as Record<K, ErrorDefinition>;
  for (const code of Object.keys(specs) as K[]) {
    if (!CODE.test(code)) throw new AuditError('AUDIT_ERR_INTERNAL', `error code ${JSON.stringify(code)} is not AUDIT_ERR_[A-Z0-9_]+`);
    const spec: ErrorSpec = specs[code];
    const retriable = spec.retriable ?? false;
    const make = (cause: unknown, args: unknown[]) =>
      new AuditError(code, args.length > 0 ? format(spec.message, ...args) : spec.message, { retriable, cause });
    out[code] = Object.freeze({
      code,
      message: spec.message,
      retriable,
      ...(spec.status === undefined ? {} : { status: spec.status }),
      ...(spec.type === undefined ? {} : { type: spec.type }),
      create: (...args: unknown[]) => make(undefined, args),
      wrap: (cause: unknown, ...args: unknown[]) => make(cause, args),
      is: (err: unknown): err is AuditError => err instanceof AuditError && err.code === code,
    });
  }
  return Object.freeze(out);
}

/** The codes this package defines (see the README's error table). */
export const RUNTIME_ERRORS = defineErrors({
  AUDIT_ERR_INTERNAL: { message: '%s' },
  AUDIT_ERR_CONFIG: { message: 'invalid configuration for %s:\n  - %s' },
  AUDIT_ERR_SETTINGS_REFUSED: { message: '%s' },
  /** start() after stop(): a stopped component is not restarted (component.ts). */
  AUDIT_ERR_STOPPED: { message: 'start() after stop(): a stopped component is not restarted' },
});

/** Normalises anything thrown into an AuditError, once, at the boundary where it was caught. */
export function toAuditError(err: unknown, fallback: ErrorDefinition | string = RUNTIME_ERRORS.AUDIT_ERR_INTERNAL, retriable?: boolean): AuditError {
  if (err instanceof AuditError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof fallback === 'string' ? fallback : fallback.code;
  return new AuditError(code, message, { retriable: retriable ?? (typeof fallback === 'string' ? false : fallback.retriable), cause: err });
}
