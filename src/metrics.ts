// deputy's Prometheus metrics: one registry per app instance (never prom-client's global one),
// so several apps in one process (tests) keep their own counts.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export function createMetrics () {
  const registry = new Registry()
  // Read from the database at each scrape: the freeze is shared by every replica.
  let readIssuanceFrozen: (() => Promise<boolean>) | undefined
  return {
    registry,
    /** 1 while issuance is frozen (the issuance_freeze row, as every replica sees it). */
    issuanceFrozen: new Gauge({
      name: 'deputy_issuance_frozen',
      help: 'Whether credential issuance is frozen by an operator (1) or not (0), read from the database at each scrape',
      registers: [registry],
      async collect () {
        if (readIssuanceFrozen === undefined) return
        try {
          this.set(await readIssuanceFrozen() ? 1 : 0)
        } catch {
          // The database does not answer: keep the last value; /readyz reports the outage.
        }
      }
    }),
    /** Counts one written audit event into the generic and the domain counters. */
    countAuditEvent (entry: { action: string, outcome: string, details?: Record<string, unknown> }): void {
      this.auditEvents.inc({ action: entry.action, outcome: entry.outcome })
      if (entry.action === 'credentials.issued') this.credentialsIssued.inc()
      const detail = (key: string): string => typeof entry.details?.[key] === 'string' ? entry.details[key] : 'unknown'
      if (entry.action === 'credentials.denied') this.credentialsDenied.inc({ reason: detail('reason') })
      if (entry.action === 'connection.probed') this.probes.inc({ outcome: detail('outcome') })
    },
    /** Where the issuanceFrozen gauge reads the freeze from. */
    watchIssuanceFreeze (read: () => Promise<boolean>): void {
      readIssuanceFrozen = read
    },
    /** Every answered request, by route pattern (never the raw URL: ids would explode the series). */
    httpDuration: new Histogram({
      name: 'deputy_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry]
    }),
    /** Audit events as they are written (an event of a transaction that later rolls back is counted too). */
    auditEvents: new Counter({
      name: 'deputy_audit_events_total',
      help: 'Audit events written, by action and outcome',
      labelNames: ['action', 'outcome'] as const,
      registers: [registry]
    }),
    credentialsIssued: new Counter({
      name: 'deputy_credentials_issued_total',
      help: 'Credentials issued (credentials.issued audit events written)',
      registers: [registry]
    }),
    credentialsDenied: new Counter({
      name: 'deputy_credentials_denied_total',
      help: 'Credential requests refused, by reason (credentials.denied audit events written)',
      labelNames: ['reason'] as const,
      registers: [registry]
    }),
    probes: new Counter({
      name: 'deputy_probes_total',
      help: 'Confused-deputy probes completed, by outcome (pass, insecure, not_assumable, error)',
      labelNames: ['outcome'] as const,
      registers: [registry]
    }),
    stsCalls: new Histogram({
      name: 'deputy_sts_call_duration_seconds',
      help: 'STS calls deputy made (each attempt), by action and result (ok, or the AWS error code)',
      labelNames: ['action', 'result'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry]
    }),
    /** Sessions AWS issued that deputy dropped because their audit event could not be committed. */
    unauditedSessions: new Counter({
      name: 'deputy_credentials_unaudited_sessions_total',
      help: 'Sessions STS issued that deputy dropped because the credentials.issued audit event could not be written',
      registers: [registry]
    }),
    /** Committed audit events the sealer has not sealed yet (set by each sealer run). */
    auditSealerLagEvents: new Gauge({
      name: 'deputy_audit_sealer_lag_events',
      help: 'Committed audit events not yet covered by a seal, as of the last sealer run',
      registers: [registry]
    }),
    /** Age of the oldest unsealed audit event (0 when everything is sealed). */
    auditSealerLagSeconds: new Gauge({
      name: 'deputy_audit_sealer_lag_seconds',
      help: 'Age in seconds of the oldest committed audit event not yet covered by a seal, as of the last sealer run',
      registers: [registry]
    })
  }
}

export type Metrics = ReturnType<typeof createMetrics>
