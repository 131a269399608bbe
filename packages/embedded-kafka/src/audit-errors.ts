import { defineErrors } from '@jwt-audit/runtime';

/**
 * The broker's own failures, as opposed to the Kafka protocol error codes it answers clients with
 * (errors.ts): a setting it refuses at start, a compressed payload that does not decode (wrapped in
 * CodecError and answered as Kafka answers it), and broken internal invariants. Listed in the README.
 */
export const BROKER_ERRORS = defineErrors({
  /** A broker setting it cannot start with (an unknown SASL mechanism). */
  AUDIT_ERR_BROKER_CONFIG: { message: '%s' },
  /** A compressed record stream that does not decode: truncated, a bad frame, above the decompression bound. */
  AUDIT_ERR_BROKER_CODEC: { message: '%s' },
});
