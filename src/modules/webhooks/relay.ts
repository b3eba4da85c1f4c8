// The webhook relay: the audit trail is the outbox. Every notified change writes its audit event in
// the transaction of the change, and nothing else; the relay then hands those events to the
// delivery queues, so a request never touches pg-boss and an emergency control never depends on it.
//
// One transaction per batch: the relay lock (one relay at a time across replicas), the cursor, the
// notified events after it in seq order up to the sealed horizon, one delivery job per subscribed
// endpoint inserted through that transaction, and the cursor moved past them. The jobs and the
// cursor commit together, so each (event, endpoint) is enqueued exactly once. Reading only up to
// the sealed horizon is what makes a cursor on seq safe: seq values commit out of order, and the
// sealer seals only the prefix of events that have committed or never will (see sealer.ts), so an
// event that commits late is still ahead of the cursor when it does.
import type { JobInsert, PgBoss } from 'pg-boss'
import type { WebhookEndpoint } from '../../config.js'
import type { PrismaClient } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import type { AuditRepository } from '../audit/audit.repository.js'
import type { SealRepository } from '../audit/seal.repository.js'
import { NOTIFIED_EVENTS } from './events.js'
import { deliveryJobId, queueOf, type DeliveryJob } from './queues.js'
import type { RelayRepository } from './relay.repository.js'

/** The relay reads every customer's events. */
const ALL_CUSTOMERS = { customerId: null }

export interface RelayRun {
  /** False when another replica held the relay lock (nothing was done). */
  locked: boolean
  /** Notified events handed to the queues in this run. */
  events: number
  /** Delivery jobs inserted (one per event and subscribed endpoint). */
  deliveries: number
  /** Where the cursor is after the run (null: not started yet). */
  throughSeq: bigint | null
  /** Notified events after the cursor, sealed or not. */
  lagEvents: number
}

export interface RelayDeps {
  prisma: PrismaClient
  relayRepository: RelayRepository
  auditRepository: AuditRepository
  sealRepository: SealRepository
  endpoints: readonly WebhookEndpoint[]
  metrics?: Pick<Metrics, 'webhookRelayLagEvents'>
  /** Events per transaction. */
  batchSize?: number
}

export function createWebhookRelay (deps: RelayDeps) {
  const { prisma, relayRepository: repo, auditRepository, sealRepository, endpoints, metrics } = deps
  const batchSize = deps.batchSize ?? 500

  async function sealedThrough (db: Pick<PrismaClient, 'auditSeal' | 'auditEvent' | '$queryRaw'>): Promise<bigint> {
    return (await sealRepository.lastSeal(db))?.throughSeq ?? 0n
  }

  async function relayBatch (boss: Pick<PgBoss, 'insert'>): Promise<{ locked: boolean, events: number, deliveries: number, through: bigint | null, full: boolean }> {
    return prisma.$transaction(async (tx) => {
      if (!await repo.tryLock(tx)) return { locked: false, events: 0, deliveries: 0, through: null, full: false }
      const cursor = await repo.cursor(tx)
      const horizon = await sealedThrough(tx)
      if (cursor === null || horizon <= cursor) return { locked: true, events: 0, deliveries: 0, through: cursor, full: false }
      const rows = await auditRepository.list(tx, ALL_CUSTOMERS, { actions: NOTIFIED_EVENTS, afterSeq: cursor, throughSeq: horizon }, batchSize, 'asc')
      const events = rows.slice(0, batchSize)
      const full = rows.length > batchSize
      // A full batch resumes after its last event; a short one has read everything through the horizon.
      const through = full ? (events.at(-1)?.seq ?? horizon) : horizon
      const jobs = new Map<string, Array<JobInsert<DeliveryJob>>>()
      for (const event of events) {
        for (const endpoint of endpoints) {
          if (!(endpoint.events as readonly string[]).includes(event.action)) continue
          const queue = queueOf(endpoint.name)
          const list = jobs.get(queue) ?? []
          list.push({ id: deliveryJobId(event.id, endpoint.name), data: { eventId: event.id } })
          jobs.set(queue, list)
        }
      }
      let deliveries = 0
      for (const [queue, list] of jobs) {
        // Loaded on first use: a deputy without webhooks never loads pg-boss (start-up time).
        const { fromPrisma } = await import('pg-boss')
        await boss.insert(queue, list, { db: fromPrisma(tx) })
        deliveries += list.length
      }
      await repo.advance(tx, through)
      return { locked: true, events: events.length, deliveries, through, full }
    })
  }

  return {
    /**
     * Where a fresh installation starts: the first deputy with webhooks sets the cursor to the
     * sealed horizon of that moment, so enabling webhooks does not replay the trail's history.
     * Later starts leave it where it is (events while every replica was down are still delivered).
     */
    async start (): Promise<bigint> {
      return repo.startAt(prisma, await sealedThrough(prisma))
    },
    /** Relays every sealed notified event after the cursor, a batch per transaction; then sets the lag gauge. */
    async runOnce (boss: Pick<PgBoss, 'insert'>): Promise<RelayRun> {
      let events = 0
      let deliveries = 0
      let batch = await relayBatch(boss)
      events += batch.events
      deliveries += batch.deliveries
      while (batch.locked && batch.full) {
        batch = await relayBatch(boss)
        events += batch.events
        deliveries += batch.deliveries
      }
      const through = batch.locked ? batch.through : await repo.cursor(prisma)
      const lagEvents = through === null ? 0 : await repo.countAfter(prisma, through, NOTIFIED_EVENTS)
      metrics?.webhookRelayLagEvents.set(lagEvents)
      return { locked: batch.locked, events, deliveries, throughSeq: through, lagEvents }
    }
  }
}

export type WebhookRelay = ReturnType<typeof createWebhookRelay>
