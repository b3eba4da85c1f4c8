// Outbound webhooks: the relay (audit trail -> delivery queues) and the delivery workers, on pg-boss
// in deputy's own database (schema pgboss). Built only when an endpoint is configured; with none,
// nothing of pg-boss runs. Nothing here is on a request's path: requests write audit events only,
// so deputy starts, serves, freezes and revokes whether pg-boss runs or not. pg-boss is started by
// the relay job (src/jobs.ts), and started again later, with backoff, when it cannot start.
import type { ConstructorOptions, Db, JobResult, JobWithMetadata, PgBoss, QueueOptions } from 'pg-boss'
import type { FastifyBaseLogger } from 'fastify'
import type { WebhooksConfig } from '../../config.js'
import { openPgPool, type Database, type DatabaseTarget, type PgPool } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import type { AuditRepository } from '../audit/audit.repository.js'
import type { SealRepository } from '../audit/seal.repository.js'
import { createWebhookDelivery } from './delivery.js'
import { DEAD_LETTER_QUEUE, DEAD_LETTER_RETENTION_SECONDS, expireInSeconds, queueOf, QUEUE_RETENTION_SECONDS, type DeliveryJob } from './queues.js'
import { createRelayRepository } from './relay.repository.js'
import { createWebhookRelay, type RelayRun, type WebhookRelay } from './relay.js'

/** Attempts one replica makes at once to one endpoint (each worker fetches one delivery at a time). */
export const WORKERS_PER_ENDPOINT = 4
/** pg-boss connections per replica (PostgreSQL): fetches, settlements and maintenance. */
const POOL_SIZE = 4
/** Longest wait before pg-boss is started again after it could not start. */
const MAX_START_BACKOFF_MS = 60_000

export interface Webhooks {
  relay: WebhookRelay
  /** Sets the relay's cursor if no deputy has yet (deputy's own table; pg-boss is not needed). */
  init (): Promise<void>
  /** The relay job's run: starts pg-boss when it is not running (with backoff), then relays. */
  relayOnce (): Promise<RelayRun | undefined>
  /** Stops the workers (attempts in flight get a grace period, then are failed and retried later) and pg-boss. */
  stop (): Promise<void>
}

export interface WebhooksDeps {
  config: WebhooksConfig
  target: DatabaseTarget
  database: Pick<Database, 'pglite' | 'prisma'>
  auditRepository: AuditRepository
  sealRepository: SealRepository
  metrics: Pick<Metrics, 'webhookDeliveries' | 'webhookDeliveryLag' | 'webhookRelayLagEvents' | 'webhookQueueUp'>
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>
}

export function createWebhooks (deps: WebhooksDeps): Webhooks | undefined {
  const { config, database, metrics, log } = deps
  if (config.endpoints.length === 0) return undefined
  metrics.webhookQueueUp.set(0)
  const relayRepository = createRelayRepository()
  const relay = createWebhookRelay({ prisma: database.prisma, relayRepository, auditRepository: deps.auditRepository, sealRepository: deps.sealRepository, endpoints: config.endpoints, metrics })
  // pg-boss's own pool would close without waiting for its connections; this one waits.
  const pool: PgPool | undefined = deps.target.kind === 'postgres'
    ? openPgPool({ connectionString: deps.target.url, max: POOL_SIZE, application_name: 'deputy-webhooks' }, (error) => { log.error({ err: error }, 'webhook queue connection error') })
    : undefined
  const inFlight = new Set<Promise<JobResult[]>>()
  const workers = config.endpoints.map((endpoint) => {
    const delivery = createWebhookDelivery({ endpoint, findEvent: async (id) => relayRepository.event(database.prisma, id), timeoutMs: config.timeoutMs, metrics, log })
    const handle = (jobs: Array<JobWithMetadata<DeliveryJob>>): Promise<JobResult[]> => {
      const run = delivery.handle(jobs)
      inFlight.add(run)
      return run.finally(() => inFlight.delete(run))
    }
    return { queue: queueOf(endpoint.name), handle }
  })
  const queueOptions: QueueOptions & { deadLetter: string } = {
    retryLimit: config.maxAttempts - 1,
    retryDelay: config.retryDelaySeconds,
    retryBackoff: true,
    retryDelayMax: config.retryDelayMaxSeconds,
    expireInSeconds: expireInSeconds(config.timeoutMs),
    retentionSeconds: QUEUE_RETENTION_SECONDS,
    deadLetter: DEAD_LETTER_QUEUE
  }

  async function newBoss (): Promise<PgBoss> {
    // Loaded here, not at start-up: a deputy without WEBHOOK_ENDPOINTS never pays for pg-boss.
    const { fromPglite, PgBoss } = await import('pg-boss')
    const common: ConstructorOptions = { schedule: false, registerInstance: false, supervise: true }
    let options: ConstructorOptions
    if (pool !== undefined) {
      const db: Db = { executeSql: async (text, values) => pool.pool.query(text, values) }
      options = { ...common, db }
    } else {
      if (database.pglite === undefined) throw new Error('the embedded database is not open')
      options = { ...common, db: fromPglite(database.pglite), backend: 'pglite' }
    }
    const boss = new PgBoss(options)
    boss.on('error', (error) => { log.error({ err: error }, 'webhook queue (pg-boss) error') })
    return boss
  }

  /** pg-boss (it creates or migrates its schema), the queues with this replica's settings, the workers. */
  async function startBoss (): Promise<PgBoss> {
    const boss = await newBoss()
    try {
      await boss.start()
      await boss.createQueue(DEAD_LETTER_QUEUE, { retentionSeconds: DEAD_LETTER_RETENTION_SECONDS })
      for (const { queue, handle } of workers) {
        await boss.createQueue(queue, queueOptions)
        // Jobs take the queue's settings when the relay inserts them: the last replica started wins.
        await boss.updateQueue(queue, queueOptions)
        await boss.work(queue, {
          batchSize: 1,
          localConcurrency: WORKERS_PER_ENDPOINT,
          includeMetadata: true,
          perJobResults: true,
          pollingIntervalSeconds: config.pollIntervalMs / 1000
        }, handle)
      }
      return boss
    } catch (error) {
      await boss.stop({ graceful: false }).catch(() => {})
      throw error
    }
  }

  let boss: PgBoss | undefined
  let stopped = false
  let failures = 0
  let retryAt = 0

  /** The running pg-boss, starting it when due; undefined while it cannot start. */
  async function running (): Promise<PgBoss | undefined> {
    if (boss !== undefined || stopped || Date.now() < retryAt) return boss
    try {
      boss = await startBoss()
      failures = 0
      metrics.webhookQueueUp.set(1)
      log.info({ endpoints: workers.map((w) => w.queue) }, 'webhook delivery queues started')
    } catch (error) {
      failures++
      const waitMs = Math.min(MAX_START_BACKOFF_MS, 1000 * 2 ** (failures - 1))
      retryAt = Date.now() + waitMs
      metrics.webhookQueueUp.set(0)
      log.error({ err: error, attempt: failures, retryInMs: waitMs }, 'could not start the webhook delivery queue (pg-boss); deputy serves without it, notified events wait in the audit trail, and it is tried again')
    }
    return boss
  }

  return {
    relay,
    async init () {
      const through = await relay.start()
      log.info({ throughSeq: through.toString() }, 'webhook relay cursor')
    },
    async relayOnce () {
      const started = await running()
      if (started === undefined) return undefined
      return relay.runOnce(started)
    },
    async stop () {
      stopped = true
      const started = boss
      boss = undefined
      metrics.webhookQueueUp.set(0)
      // After the grace, pg-boss fails what is still in flight (retried later) and aborts it.
      await started?.stop({ graceful: true, close: false, timeout: Math.min(config.timeoutMs, 5000) })
      await Promise.allSettled([...inFlight])
      await pool?.end()
    }
  }
}
