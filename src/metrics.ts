// deputy's Prometheus metrics: one registry per app instance (never prom-client's global one),
// so several apps in one process (tests) keep their own counts.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { PoolStats } from './db/database.js'

/**
 * A gauge read from the database at each scrape (state every replica shares), once `watching()`.
 * When the database does not answer, it keeps its last value: /readyz reports the outage.
 */
function databaseGauge (registry: Registry, name: string, help: string, read: () => Promise<number>, watching: () => boolean): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    async collect () {
      if (!watching()) return
      try {
        this.set(await read())
      } catch {}
    }
  })
}

export function createMetrics () {
  const registry = new Registry()
  // Read from the database at each scrape: the freeze is shared by every replica.
  let readIssuanceFrozen: (() => Promise<boolean>) | undefined
  let readDatabasePool: (() => PoolStats) | undefined
  let readDriftBacklog: (() => Promise<number>) | undefined
  return {
    registry,
    /** 1 while issuance is frozen (the issuance_freeze row, as every replica sees it). */
    issuanceFrozen: databaseGauge(registry, 'deputy_issuance_frozen', 'Whether credential issuance is frozen by an operator (1) or not (0), read from the database at each scrape', async () => await readIssuanceFrozen?.() === true ? 1 : 0, () => readIssuanceFrozen !== undefined),
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
    /** Connections due for a drift probe and not claimed yet, read from the database at each scrape. */
    driftBacklog: databaseGauge(registry, 'deputy_drift_backlog_connections', 'Connections whose drift probe is due and not yet claimed by any replica, read from the database at each scrape', async () => await readDriftBacklog?.() ?? 0, () => readDriftBacklog !== undefined),
    /** Where the driftBacklog gauge reads the backlog from (unset: drift detection is off). */
    watchDriftBacklog (read: () => Promise<number>): void {
      readDriftBacklog = read
    },
    /**
     * deputy_aws_credentials_long_term: 1 when deputy's own AWS credentials are long-term access
     * keys (AKIA...), 0 when temporary. Registered only when called (with AWS, outside the
     * sandbox), so that no series means "no AWS", not "temporary".
     */
    reportAwsCredentials (kind: 'long_term' | 'temporary'): void {
      new Gauge({ name: 'deputy_aws_credentials_long_term', help: 'Whether deputy\'s own AWS credentials are long-term access keys (AKIA..., 1) or temporary credentials of a role (0), as resolved at start', registers: [registry] }).set(kind === 'long_term' ? 1 : 0)
    },
    /** 1 while this process hears API-client notifications, so its token cache may serve. */
    credentialReuseListening: new Gauge({ name: 'deputy_credential_reuse_listening', help: 'With CREDENTIAL_REUSE=on: whether this process hears revocations and freezes (LISTEN deputy_issuance) and so hands out sessions it holds (1), or issues a fresh session for every request (0)', registers: [registry] }),
    tokenCacheListening: new Gauge({ name: 'deputy_api_token_cache_listening', help: 'Whether this process hears revocations of API clients (LISTEN deputy_api_clients) and so serves resolved tokens from its cache (1), or looks every token up (0)', registers: [registry] }),
    /** The PostgreSQL pool at scrape time; no sample on PGlite (one connection, no pool). */
    databasePool: new Gauge({
      name: 'deputy_db_pool_connections',
      help: 'Connections of this process\'s PostgreSQL pool (at most DATABASE_POOL_SIZE in use + idle) by state: in_use, idle, and waiting (requests queued for a connection)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect () {
        const stats = readDatabasePool?.()
        if (stats === undefined) return
        this.set({ state: 'in_use' }, stats.inUse)
        this.set({ state: 'idle' }, stats.idle)
        this.set({ state: 'waiting' }, stats.waiting)
      }
    }),
    /** Where the databasePool gauge reads the pool from (PostgreSQL only). */
    watchDatabasePool (read: () => PoolStats): void {
      readDatabasePool = read
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
    }),
    /** Webhook delivery attempts this replica made (failed: retried later; dead_lettered: the last one failed; dropped: a job naming no notified event). */
    webhookDeliveries: new Counter({
      name: 'deputy_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by endpoint name and result (delivered, failed and to be retried, dead_lettered after the last attempt, dropped: a job that names no event the endpoint is notified of, never sent)',
      labelNames: ['endpoint', 'result'] as const,
      registers: [registry]
    }),
    /** Notified audit events the relay has not handed to the delivery queues yet (set by each relay run). */
    webhookRelayLagEvents: new Gauge({
      name: 'deputy_webhook_relay_lag_events',
      help: 'Committed audit events of a notified type after the webhook relay\'s cursor (not yet enqueued for delivery; unsealed ones included), as of the last relay run on this replica',
      registers: [registry]
    }),
    /** 1 while this replica's pg-boss (the delivery queues and workers) runs. */
    webhookQueueUp: new Gauge({
      name: 'deputy_webhook_queue_up',
      help: 'Whether this replica\'s webhook delivery queue (pg-boss) is running (1) or could not start and is being retried (0)',
      registers: [registry]
    }),
    /** From the event to its delivery, retries included. */
    webhookDeliveryLag: new Histogram({
      name: 'deputy_webhook_delivery_lag_seconds',
      help: 'Time from an audit event to the delivery of its webhook, by endpoint name (retries included)',
      labelNames: ['endpoint'] as const,
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
      registers: [registry]
    })
  }
}

export type Metrics = ReturnType<typeof createMetrics>
