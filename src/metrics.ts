// deputy's Prometheus metrics: one registry per app instance (never prom-client's global one),
// so several apps in one process (tests) keep their own counts.
import { Counter, Registry } from 'prom-client'

export function createMetrics () {
  const registry = new Registry()
  return {
    registry,
    /** Sessions AWS issued that deputy dropped because their audit event could not be committed. */
    unauditedSessions: new Counter({
      name: 'deputy_credentials_unaudited_sessions_total',
      help: 'Sessions STS issued that deputy dropped because the credentials.issued audit event could not be written',
      registers: [registry]
    })
  }
}

export type Metrics = ReturnType<typeof createMetrics>
