// The audit sealer: appends seals to the hash chain over the audit trail, one seal per event, in
// seq order, and never past an event that may still commit.
//
// seq values are taken by nextval() and can commit out of order; a rolled-back transaction leaves
// a permanent gap. The sealer seals only the contiguous committed prefix. A gap at seq s (a later
// seq is visible, s is not) is passed only when s can no longer commit: the transaction that took
// s called nextval before the later event's transaction committed, so it began before the moment
// t0 the sealer first saw the gap. Once no other transaction that began before t0 is open, and a
// fresh read still lacks s, s is missing for good. The seal after a gap records it (its from_seq
// is the seal before it's through_seq), so the integrity check tells a legitimate gap from a
// deleted event. One seal per event: a check can then name the exact event that no longer
// matches, which a seal over many events could not without a per-event hash column.
//
// Seeing "no other transaction" needs a role that sees every session's xact_start (superuser or
// pg_read_all_stats): other roles' sessions show a null one. A session the sealer cannot see
// counts as an open transaction that began before t0, so no gap is passed while one is connected
// to this database (the conservative mode /readyz and the integrity report name).
//
// Replicas take turns through a transaction-scoped advisory lock; writers never wait on it.
import type { FastifyBaseLogger } from 'fastify'
import type { PrismaClient } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import type { SealingMode } from './integrity.js'
import { GENESIS_HASH, eventHash, sealHash } from './seal-hash.js'
import type { NewSeal, SealRepository } from './seal.repository.js'

export interface SealRun {
  /** False when another replica held the sealer lock (nothing was done). */
  locked: boolean
  sealed: number
  /** Through which seq the chain reaches after the run, or null when nothing is sealed yet. */
  sealedThroughSeq: bigint | null
  /** The first seq the run stopped at because it may still commit, or null. */
  waitingForSeq: bigint | null
  lagEvents: number
  lagSeconds: number
}

interface Gap {
  from: bigint
  to: bigint
  /** The database clock when this sealer first saw every seq in [from, to] missing. */
  seenAt: Date
}

export function createAuditSealer (deps: { prisma: PrismaClient, sealRepository: SealRepository, metrics?: Metrics, batchSize?: number, log?: Pick<FastifyBaseLogger, 'warn'> }) {
  const { prisma, sealRepository: repo, metrics } = deps
  const batchSize = deps.batchSize ?? 1000
  let gaps: Gap[] = []
  let mode: SealingMode | undefined

  /** Checked once (at the first run, or /readyz's first answer), kept for the life of the process. */
  async function sealingMode (): Promise<SealingMode> {
    if (mode !== undefined) return mode
    const checked: SealingMode = await repo.seesEveryTransaction(prisma) ? 'exact' : 'conservative'
    if (mode === undefined && checked === 'conservative') {
      deps.log?.warn('audit sealing is conservative: this database role cannot see other roles\' transactions (grant it pg_read_all_stats); the sealer passes no gap in seq while such a session is connected to the database')
    }
    mode = checked
    return mode
  }

  const seenAt = (from: bigint, to: bigint): Date | undefined => gaps.find((g) => g.from <= from && to <= g.to)?.seenAt

  /** One transaction: seal up to batchSize events after the chain's end. */
  async function sealBatch (): Promise<{ locked: boolean, sealed: number, through: bigint | null, waitingForSeq: bigint | null }> {
    return prisma.$transaction(async (tx) => {
      if (!await repo.tryLockSealer(tx)) return { locked: false, sealed: 0, through: null, waitingForSeq: null }
      const last = await repo.lastSeal(tx)
      let prevThrough = last?.throughSeq ?? 0n
      let prevHash = last?.hash ?? GENESIS_HASH
      let rows = await repo.eventsAfter(tx, prevThrough, batchSize)
      const lastSeq = rows.at(-1)?.seq
      if (lastSeq === undefined) return { locked: true, sealed: 0, through: last?.throughSeq ?? null, waitingForSeq: null }

      let horizon: { oldest: Date | null, hidden: number } = { oldest: null, hidden: 0 }
      let expected = prevThrough + 1n
      const missing: Array<[bigint, bigint]> = []
      for (const row of rows) {
        if (row.seq > expected) missing.push([expected, row.seq - 1n])
        expected = row.seq + 1n
      }
      if (missing.length > 0) {
        const now = await repo.clock(tx)
        for (const [from, to] of missing) {
          if (seenAt(from, to) === undefined) gaps.push({ from, to, seenAt: now })
        }
        // Read after t0, then re-read the events: one that committed in between is sealed, not skipped.
        horizon = await repo.oldestOtherTransaction(tx)
        rows = await repo.eventsInRange(tx, prevThrough, lastSeq)
      }

      const seals: NewSeal[] = []
      let waitingForSeq: bigint | null = null
      for (const row of rows) {
        if (row.seq > prevThrough + 1n) {
          const since = seenAt(prevThrough + 1n, row.seq - 1n)
          if (since === undefined || horizon.hidden > 0 || (horizon.oldest !== null && horizon.oldest < since)) {
            waitingForSeq = prevThrough + 1n
            break
          }
        }
        const hash = sealHash({ prevHash, fromSeq: prevThrough, throughSeq: row.seq, eventHashes: [eventHash(row)] })
        seals.push({ fromSeq: prevThrough, throughSeq: row.seq, eventCount: 1, prevHash, hash })
        prevThrough = row.seq
        prevHash = hash
      }
      if (seals.length > 0) await repo.appendSeals(tx, seals)
      gaps = gaps.filter((g) => g.to > prevThrough)
      return { locked: true, sealed: seals.length, through: seals.length > 0 || last !== null ? prevThrough : null, waitingForSeq }
    })
  }

  return {
    /** Seals everything it safely can (in transactions of batchSize events), then updates the lag gauges. */
    sealingMode,
    async runOnce (): Promise<SealRun> {
      await sealingMode()
      let sealed = 0
      let batch = await sealBatch()
      sealed += batch.sealed
      while (batch.locked && batch.sealed === batchSize && batch.waitingForSeq === null) {
        batch = await sealBatch()
        sealed += batch.sealed
      }
      const through = batch.through ?? (await repo.lastSeal(prisma))?.throughSeq ?? null
      const lag = await repo.unsealed(prisma, through ?? 0n)
      const lagSeconds = lag.oldest === null ? 0 : Math.max(0, (Date.now() - lag.oldest.getTime()) / 1000)
      metrics?.auditSealerLagEvents.set(lag.events)
      metrics?.auditSealerLagSeconds.set(lagSeconds)
      return { locked: batch.locked, sealed, sealedThroughSeq: through, waitingForSeq: batch.waitingForSeq, lagEvents: lag.events, lagSeconds }
    }
  }
}

export type AuditSealer = ReturnType<typeof createAuditSealer>
