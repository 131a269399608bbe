import type { Metrics } from '@jwt-audit/runtime';
import type { PublisherMetrics } from './publisher.js';

export interface InterceptorMetrics {
  publisher: PublisherMetrics;
  request(route: string, status: number, seconds: number): void;
  outcome(kind: 'validated' | 'rejected', reason: string): void;
  revocationsApplied(n: number): void;
  keyRotation(): void;
  ingest(status: number, events: number): void;
  /** Upstream response headers node cannot write, dropped instead of thrown. */
  droppedResponseHeaders(n: number): void;
  /** An exchange ended by a failure (upstream or internal); `reason` is one of a fixed set. */
  exchangeError(reason: string): void;
  /** node's clientError (a request refused before or while the handler ran); `recorded`: an event was published (rate-limited). */
  clientError(reason: string, recorded: boolean): void;
  openConnections(n: number): void;
  /** X-Forwarded-For entries that are not IP addresses (kept out of the event's IP fields). */
  invalidForwardedFor(n: number): void;
  refusedConnection(reason: 'max_connections' | 'max_connections_per_ip'): void;
  /** An approval step taken at this edge (requested, used, expired, granted, denied). */
  approvalStep(step: string): void;
  /** A signed approval callback answered with `status`. */
  approvalCallback(status: number): void;
}

/** Metric names follow audit_<component>_<what>_<unit>. */
export function interceptorMetrics(m: Metrics): InterceptorMetrics {
  const requests = m.counter('audit_interceptor_requests_total', 'Requests handled, by route and status class', ['route', 'status']);
  const latency = m.histogram('audit_interceptor_request_duration_seconds', 'Time from request start to response end', ['route']);
  const outcomes = m.counter('audit_interceptor_token_outcomes_total', 'Token validations by outcome and rejection reason', ['outcome', 'reason']);
  const published = m.counter('audit_interceptor_published_records_total', 'Records acknowledged by Kafka', ['topic']);
  const spooled = m.counter('audit_interceptor_spooled_records_total', 'Records written to the disk spool');
  const lost = m.counter(
    'audit_interceptor_lost_events_total',
    'Audit records lost, by reason (queue_full, spool_full, spool_error, spool_corrupt, stopped_in_memory)',
    ['reason'],
  );
  const spoolFree = m.gauge('audit_interceptor_spool_free_bytes', "Free bytes on the spool's filesystem as last measured (statfs; -1 unknown)");
  const cursorFailures = m.counter(
    'audit_interceptor_spool_cursor_write_failures_total',
    'Spool cursor writes that failed (retried; until one succeeds a restart would re-send delivered records)',
  );
  const loopRestarts = m.counter('audit_interceptor_publisher_restarts_total', 'Times the publisher loop failed and was restarted');
  const tailCut = m.counter('audit_interceptor_spool_tail_cut_bytes_total', 'Bytes of torn or corrupt spool tail cut at start');
  const publishLatency = m.histogram('audit_interceptor_publish_duration_seconds', 'Kafka send latency per batch');
  const queueDepth = m.gauge('audit_interceptor_queue_depth_records', 'Records waiting in memory');
  const spoolBytes = m.gauge('audit_interceptor_spool_bytes', 'Undelivered bytes in the disk spool');
  const revocations = m.counter('audit_interceptor_revocation_records_total', 'Revocation records applied');
  const rotations = m.counter('audit_interceptor_key_rotations_total', 'JWKS key-set changes seen');
  const ingest = m.counter('audit_interceptor_ingest_requests_total', 'Ingest API requests by status', ['status']);
  const approvalSteps = m.counter('audit_interceptor_approval_steps_total', 'Approval steps taken at this edge', ['step']);
  const approvalCallbacks = m.counter('audit_interceptor_approval_callbacks_total', 'Signed approval callbacks by status', ['status']);
  const ingestEvents = m.counter('audit_interceptor_ingest_events_total', 'Lifecycle events accepted by the ingest API');
  const droppedHeaders = m.counter(
    'audit_interceptor_dropped_response_headers_total',
    'Upstream response headers dropped because node cannot write them (bad name or value)',
  );
  const exchangeErrors = m.counter('audit_interceptor_exchange_errors_total', 'Exchanges ended by a failure, by reason (upstream_* or internal)', ['reason']);
  const clientErrors = m.counter('audit_interceptor_client_errors_total', 'Requests node refused (malformed, too large, too slow, reset mid-head), by reason', [
    'reason',
  ]);
  const clientErrorsUnrecorded = m.counter(
    'audit_interceptor_client_error_events_suppressed_total',
    'Client errors counted but not published as events (over the rate limit)',
  );
  const connections = m.gauge('audit_interceptor_open_connections', 'Client connections open on the proxy listener');
  const refusedConnections = m.counter('audit_interceptor_refused_connections_total', 'Client connections refused over a cap, by cap', ['reason']);
  const invalidXff = m.counter(
    'audit_interceptor_invalid_forwarded_for_total',
    'X-Forwarded-For entries that are not IP addresses, left out of network.forwardedFor',
  );
  // label values are bounded: route names from the config, status classes, the schema's reasons
  const requestChildren = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();
  const outcomeChildren = new Map<string, { inc(): void }>();
  return {
    publisher: {
      published: (topic, n) => published.inc({ topic }, n),
      spooled: (n) => spooled.inc(n),
      lost: (reason, n) => lost.inc({ reason }, n),
      publishSeconds: (s) => publishLatency.observe(s),
      queueDepth: (n) => queueDepth.set(n),
      spoolBytes: (n) => spoolBytes.set(n),
      spoolFreeBytes: (n) => spoolFree.set(n),
      cursorWriteFailed: () => cursorFailures.inc(),
      loopRestarted: () => loopRestarts.inc(),
      spoolTailCut: (bytes) => tailCut.inc(bytes),
    },
    request(route, status, seconds) {
      // once per request: label children looked up in a map rather than by prom-client's label hashing
      const cls = Math.floor(status / 100);
      const key = `${route}\u0000${cls}`;
      let r = requestChildren.get(key);
      if (!r) requestChildren.set(key, (r = { count: requests.labels({ route, status: `${cls}xx` }), latency: latency.labels({ route }) }));
      r.count.inc();
      r.latency.observe(seconds);
    },
    outcome(kind, reason) {
      const key = `${kind}\u0000${reason}`;
      let c = outcomeChildren.get(key);
      if (!c) outcomeChildren.set(key, (c = outcomes.labels({ outcome: kind, reason })));
      c.inc();
    },
    revocationsApplied: (n) => revocations.inc(n),
    keyRotation: () => rotations.inc(),
    ingest(status, events) {
      ingest.inc({ status: String(status) });
      if (events > 0) ingestEvents.inc(events);
    },
    droppedResponseHeaders: (n) => droppedHeaders.inc(n),
    exchangeError: (reason) => exchangeErrors.inc({ reason }),
    clientError(reason, recorded) {
      clientErrors.inc({ reason });
      if (!recorded) clientErrorsUnrecorded.inc();
    },
    openConnections: (n) => connections.set(n),
    invalidForwardedFor: (n) => invalidXff.inc(n),
    refusedConnection: (reason) => refusedConnections.inc({ reason }),
    approvalStep: (step) => approvalSteps.inc({ step }),
    approvalCallback: (status) => approvalCallbacks.inc({ status: String(status) }),
  };
}
