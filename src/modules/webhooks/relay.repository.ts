// Queries of the webhook relay: its lock, its cursor (the one row of webhook_relay_cursor) and the
// reads of the audit trail the relay and the delivery worker make beyond the audit repository's.
import type { PrismaClient } from '../../db/database.js'
import { tryAdvisoryXactLock } from '../../db/locks.js'
import type { AuditEventRow } from '../audit/audit.repository.js'

type Db = Pick<PrismaClient, 'webhookRelayCursor' | 'auditEvent' | '$queryRaw'>

/** One relay at a time across every replica; released by COMMIT or ROLLBACK. */
const RELAY_LOCK = 'deputy.webhook_relay'

export function createRelayRepository () {
  return {
    tryLock (db: Db): Promise<boolean> {
      return tryAdvisoryXactLock(db, RELAY_LOCK)
    },
    /** Through which seq notified events are enqueued; null until a deputy with webhooks has started. */
    async cursor (db: Db): Promise<bigint | null> {
      const row = await db.webhookRelayCursor.findUnique({ where: { id: true } })
      return row?.throughSeq ?? null
    },
    /** Puts the cursor at `seq` unless it is already set; returns where it is. */
    async startAt (db: Db, seq: bigint): Promise<bigint> {
      // Two replicas starting at once: the second one's update finds the row set and changes nothing.
      await db.webhookRelayCursor.updateMany({ where: { id: true, throughSeq: null }, data: { throughSeq: seq, updatedAt: new Date() } })
      const row = await db.webhookRelayCursor.upsert({ where: { id: true }, create: { id: true, throughSeq: seq }, update: {} })
      return row.throughSeq ?? seq
    },
    async advance (db: Db, throughSeq: bigint): Promise<void> {
      await db.webhookRelayCursor.update({ where: { id: true }, data: { throughSeq, updatedAt: new Date() } })
    },
    /** Committed events of these actions after `afterSeq` (the relay's lag; uses audit_events_action_seq_idx). */
    countAfter (db: Db, afterSeq: bigint, actions: readonly string[]): Promise<number> {
      return db.auditEvent.count({ where: { seq: { gt: afterSeq }, action: { in: [...actions] } } })
    },
    /** One event by id (the delivery worker builds the body from it at send time). */
    event (db: Db, id: string): Promise<AuditEventRow | null> {
      return db.auditEvent.findUnique({ where: { id } })
    }
  }
}

export type RelayRepository = ReturnType<typeof createRelayRepository>
