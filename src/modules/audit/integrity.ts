// Verifies the audit seal chain against the events as they are now: every seal links to the one
// before it, and every sealed range still holds exactly the events that were sealed. The first
// event that no longer matches is named by its seq.
//
// The default check is incremental: it starts after the last seal this process has already
// verified (a watermark in memory, lost on restart, when the next check is a full one), so polling
// it costs only the new seals. It does not re-read ranges verified before: `full` does.
import type { PrismaClient } from '../../db/database.js'
import { GENESIS_HASH, eventHash, sealHash } from './seal-hash.js'
import type { AuditSealRow, SealRepository } from './seal.repository.js'

export type IntegrityReason = 'chain_broken' | 'event_missing' | 'event_unexpected' | 'hash_mismatch'

export interface IntegrityReport {
  ok: boolean
  /** The end of the chain checked (the last seal's through_seq), or null when nothing is sealed. */
  sealedThroughSeq: bigint | null
  /** Events whose content was recomputed by this check. */
  checkedEvents: number
  firstInvalidSeq: bigint | null
  reason: IntegrityReason | null
  detail: string | null
  /**
   * `conservative` when this database role cannot see other roles' transactions (neither
   * superuser nor pg_read_all_stats): the sealer then passes no gap while such a session is
   * connected, so sealing may lag; what is sealed is still sound.
   */
  sealing: SealingMode
}

export type SealingMode = 'exact' | 'conservative'

interface Watermark { sealId: bigint, throughSeq: bigint, hash: string }

const SEALS_PER_READ = 500

export function createAuditIntegrity (deps: { prisma: PrismaClient, sealRepository: SealRepository }) {
  const { prisma, sealRepository: repo } = deps
  let verified: Watermark | null = null

  /** Why the seal's range no longer matches, and the first seq concerned. */
  function locate (seal: AuditSealRow, rows: Array<{ seq: bigint }>): { seq: bigint, reason: IntegrityReason, detail: string } {
    const sealed = seal.eventCount === 1 ? seal.throughSeq : null
    const intruder = rows.find((row) => row.seq !== sealed)
    if (sealed !== null && intruder !== undefined) {
      return { seq: intruder.seq, reason: 'event_unexpected', detail: `event ${intruder.seq} lies in a sealed gap: it was not there when seal ${seal.id} was written` }
    }
    if (sealed !== null && rows.length === 0) {
      return { seq: sealed, reason: 'event_missing', detail: `event ${sealed}, sealed by seal ${seal.id}, is gone` }
    }
    const first = rows[0]?.seq ?? seal.fromSeq + 1n
    return { seq: sealed ?? first, reason: 'hash_mismatch', detail: `the events of seal ${seal.id} (seqs ${seal.fromSeq + 1n}-${seal.throughSeq}) or its hash were altered` }
  }

  return {
    async check (options: { full?: boolean } = {}): Promise<IntegrityReport> {
      const start = options.full === true ? null : verified
      let afterId = start?.sealId ?? 0n
      let prevThrough = start?.throughSeq ?? 0n
      let prevHash = start?.hash ?? GENESIS_HASH
      let checkedEvents = 0
      let last: Watermark | null = start
      const sealing: SealingMode = await repo.seesEveryTransaction(prisma) ? 'exact' : 'conservative'
      const broken = (seq: bigint, reason: IntegrityReason, detail: string): IntegrityReport =>
        ({ ok: false, sealedThroughSeq: last?.throughSeq ?? null, checkedEvents, firstInvalidSeq: seq, reason, detail, sealing })

      for (;;) {
        const seals = await repo.sealsAfter(prisma, afterId, SEALS_PER_READ)
        const first = seals[0]
        const end = seals.at(-1)
        if (first === undefined || end === undefined) break
        const rows = await repo.eventsInRange(prisma, first.fromSeq < prevThrough ? first.fromSeq : prevThrough, end.throughSeq)
        let i = 0
        // Events before the first seal's range (none unless inserted behind deputy's back).
        while (rows[i] !== undefined && (rows[i]?.seq ?? 0n) <= first.fromSeq) {
          const row = rows[i]
          if (row !== undefined) return broken(row.seq, 'event_unexpected', `event ${row.seq} lies between seals`)
          i++
        }
        for (const seal of seals) {
          if (seal.fromSeq !== prevThrough || seal.prevHash !== prevHash) {
            return broken(seal.fromSeq + 1n, 'chain_broken', `seal ${seal.id} does not follow the seal before it (from_seq ${seal.fromSeq}, expected ${prevThrough}; or its prev_hash differs)`)
          }
          const inRange: typeof rows = []
          while (rows[i] !== undefined && (rows[i]?.seq ?? 0n) <= seal.throughSeq) {
            const row = rows[i]
            if (row !== undefined) inRange.push(row)
            i++
          }
          checkedEvents += inRange.length
          const hash = sealHash({ prevHash, fromSeq: seal.fromSeq, throughSeq: seal.throughSeq, eventHashes: inRange.map(eventHash) })
          if (inRange.length !== seal.eventCount || hash !== seal.hash) {
            const found = locate(seal, inRange)
            return broken(found.seq, found.reason, found.detail)
          }
          prevThrough = seal.throughSeq
          prevHash = seal.hash
          afterId = seal.id
          last = { sealId: seal.id, throughSeq: seal.throughSeq, hash: seal.hash }
        }
      }
      verified = last
      return { ok: true, sealedThroughSeq: last?.throughSeq ?? null, checkedEvents, firstInvalidSeq: null, reason: null, detail: null, sealing }
    }
  }
}

export type AuditIntegrity = ReturnType<typeof createAuditIntegrity>
