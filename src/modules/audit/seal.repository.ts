// Queries of the audit seal chain: the sealer's lock, reads of committed events by seq, the other
// transactions still open, and the seals themselves. Raw SQL only where Prisma has no words
// for it (advisory locks, pg_stat_activity, the database clock).
import type { PrismaClient } from '../../db/database.js'
import type { AuditSeal, Prisma } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import type { AuditEventRow } from './audit.repository.js'
import type { AuditOutcome } from './audit.recorder.js'

type Db = Pick<PrismaClient, 'auditEvent' | 'auditSeal' | '$queryRaw'>

export type AuditSealRow = AuditSeal

export interface NewSeal {
  fromSeq: bigint
  throughSeq: bigint
  eventCount: number
  prevHash: string
  hash: string
}

/** One sealer at a time across every replica; released by COMMIT or ROLLBACK. */
const SEALER_LOCK = 'deputy.audit_sealer'

export function createSealRepository () {
  return {
    async tryLockSealer (db: Db): Promise<boolean> {
      const [row] = await db.$queryRaw<Array<{ locked: boolean }>>`SELECT pg_try_advisory_xact_lock(hashtextextended(${SEALER_LOCK}, 0)) AS locked`
      return row?.locked === true
    },
    /** The database's clock now (not the transaction's start). */
    async clock (db: Db): Promise<Date> {
      const [row] = await db.$queryRaw<Array<{ now: Date }>>`SELECT clock_timestamp() AS now`
      if (row === undefined) throw new Error('clock_timestamp() returned no row')
      return row.now
    },
    /**
     * When the oldest transaction still open in this database, other than the caller's, began
     * (null when there is none), and how many other sessions in this database hide theirs. A
     * role sees another role's xact_start only as a superuser or with pg_read_all_stats; without,
     * those sessions show "<insufficient privilege>" and a null xact_start, and may hold a seq.
     * PGlite has one connection: always null and none hidden.
     */
    async oldestOtherTransaction (db: Db): Promise<{ oldest: Date | null, hidden: number }> {
      const [row] = await db.$queryRaw<Array<{ oldest: Date | null, hidden: number }>>`SELECT min(xact_start) AS oldest,
          (count(*) FILTER (WHERE query = '<insufficient privilege>'))::int AS hidden
        FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()`
      return { oldest: row?.oldest ?? null, hidden: row?.hidden ?? 0 }
    },
    /**
     * Whether this role sees every session's transaction start (a superuser, or a member of
     * pg_read_all_stats). When it does not, the sealer seals conservatively: it passes no gap
     * while a session it cannot see is connected to this database.
     */
    async seesEveryTransaction (db: Db): Promise<boolean> {
      const [row] = await db.$queryRaw<Array<{ sees: boolean }>>`SELECT (r.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')) AS sees
        FROM pg_roles r WHERE r.rolname = current_user`
      return row?.sees === true
    },
    lastSeal (db: Db): Promise<AuditSealRow | null> {
      return db.auditSeal.findFirst({ orderBy: { throughSeq: 'desc' } })
    },
    /** Committed events after `afterSeq`, in seq order. */
    eventsAfter (db: Db, afterSeq: bigint, limit: number): Promise<AuditEventRow[]> {
      return db.auditEvent.findMany({ where: { seq: { gt: afterSeq } }, orderBy: { seq: 'asc' }, take: limit })
    },
    /** Committed events in (fromSeq, throughSeq], in seq order. */
    eventsInRange (db: Db, fromSeq: bigint, throughSeq: bigint): Promise<AuditEventRow[]> {
      return db.auditEvent.findMany({ where: { seq: { gt: fromSeq, lte: throughSeq } }, orderBy: { seq: 'asc' } })
    },
    async appendSeals (db: Db, seals: NewSeal[]): Promise<void> {
      await db.auditSeal.createMany({ data: seals })
    },
    /** How many committed events are not sealed yet, and when the oldest of them happened. */
    async unsealed (db: Db, afterSeq: bigint): Promise<{ events: number, oldest: Date | null }> {
      const [row] = await db.$queryRaw<Array<{ events: bigint, oldest: Date | null }>>`SELECT count(*) AS events, min(occurred_at) AS oldest FROM audit_events WHERE seq > ${afterSeq}`
      return { events: Number(row?.events ?? 0n), oldest: row?.oldest ?? null }
    },
    /** Seals in chain order after the seal `afterId`. */
    sealsAfter (db: Db, afterId: bigint, limit: number): Promise<AuditSealRow[]> {
      return db.auditSeal.findMany({ where: { id: { gt: afterId } }, orderBy: { id: 'asc' }, take: limit })
    },
    /** Seals covering any seq in [minSeq, maxSeq], in seq order. */
    sealsCovering (db: Db, minSeq: bigint, maxSeq: bigint): Promise<AuditSealRow[]> {
      return db.auditSeal.findMany({ where: { throughSeq: { gte: minSeq }, fromSeq: { lt: maxSeq } }, orderBy: { throughSeq: 'asc' } })
    },
    /** One page of the export: events in (afterSeq, throughSeq] in seq order, within the caller's tenant. */
    exportPage (db: Db, scope: TenantScope, filter: AuditExportFilter, afterSeq: bigint, throughSeq: bigint, limit: number): Promise<AuditEventRow[]> {
      const where: Prisma.AuditEventWhereInput = {
        customerId: scope.customerId ?? filter.customerId,
        action: filter.action,
        outcome: filter.outcome,
        actorClientId: filter.actorClientId,
        resourceId: filter.resourceId,
        occurredAt: { gte: filter.since, lt: filter.until },
        seq: { gt: afterSeq, lte: throughSeq }
      }
      return db.auditEvent.findMany({ where, orderBy: { seq: 'asc' }, take: limit })
    }
  }
}

export interface AuditExportFilter {
  customerId?: string | undefined
  action?: string | undefined
  outcome?: AuditOutcome | undefined
  actorClientId?: string | undefined
  resourceId?: string | undefined
  since?: Date | undefined
  until?: Date | undefined
}

export type SealRepository = ReturnType<typeof createSealRepository>
