// Drift detection: every replica runs this on a timer. Each run claims the connections whose slot
// has come (see probe-slots.ts), within the STS call rate shared by all replicas, and re-runs the
// confused-deputy probe on each. A role the customer loosened becomes `insecure`, one they broke
// becomes `failed`, and a fixed one becomes `active` again, audited and in force for issuance as
// soon as it commits.
//
// Why not pg-boss here (deputy uses it for webhooks): the schedule is a property of each
// connection row (next_probe_at, spread by slot, kept when the row changes), and the rate is a
// budget shared by every replica. A job queue would hold a second copy of the schedule to keep in
// step with the rows, and has no shared rate; one claim statement does both (drift.repository.ts).
import type { FastifyBaseLogger } from 'fastify'
import type { PrismaClient } from '../../db/database.js'
import type { ConnectionsService, DriftProbeResult } from '../connections/connections.service.js'
import type { DriftRepository } from './drift.repository.js'

/**
 * AssumeRole with the external ID, GetCallerIdentity, AssumeRole without it, with a wrong one:
 * one attempt each (drift probes do not retry). A refusal that could fail the connection costs up
 * to two more (the confirming call, and the control role when one is set). The static check's
 * IAM GetRole goes to IAM, not STS, and its witness replay happens only for a role found
 * insecure; both count toward how long a probe can take, not toward the STS rate.
 */
export const STS_CALLS_PER_PROBE = 4
const MAX_CALLS_PER_PROBE = 8

/** Probes one run claims at most, per probe run at once: bounds how long a run holds its claims. */
const BATCHES_PER_RUN = 4

export interface DriftSettings {
  intervalMs: number
  stsCallsPerMinute: number
  /** Pause between two runs on this replica. */
  tickMs: number
}

export interface DriftRun {
  claimed: number
  results: Array<DriftProbeResult | { connectionId: string, probed: false, reason: 'error' | 'not_run' }>
}

/**
 * How long a claim keeps other replicas off: twice the longest a run of `batches` batches can take
 * when every STS call runs into its timeout (and the confirming calls use their retry budget),
 * and never under 15 minutes.
 */
export function claimLeaseMs (batches: number, sts: { timeoutMs: number, retryBudgetMs: number }): number {
  const worstProbeMs = MAX_CALLS_PER_PROBE * sts.timeoutMs + 2 * sts.retryBudgetMs + 10_000
  return Math.max(15 * 60 * 1000, 2 * batches * worstProbeMs)
}

export function createDriftScheduler (deps: {
  prisma: PrismaClient
  driftRepository: DriftRepository
  connections: Pick<ConnectionsService, 'probeForDrift'>
  settings: DriftSettings
  /** The STS call timeout and retry budget, which bound how long a probe can take. */
  sts: { timeoutMs: number, retryBudgetMs: number }
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>
  /** Probes run at once on this replica. */
  concurrency?: number
}) {
  const { prisma, driftRepository: repo, connections, settings, log } = deps
  const concurrency = deps.concurrency ?? 4
  const probesPerMinute = Math.floor(settings.stsCallsPerMinute / STS_CALLS_PER_PROBE)
  // A run claims its share of the minute (so one replica's probes spread over the minute), and
  // never more than a few batches (so its claims are short); more throughput takes more replicas
  // or a shorter tick.
  const perRun = Math.max(1, Math.min(concurrency * BATCHES_PER_RUN, Math.ceil(probesPerMinute * Math.min(1, settings.tickMs / 60_000))))
  const leaseMs = claimLeaseMs(Math.ceil(perRun / concurrency), deps.sts)

  async function probe (claim: { id: string, claimedAt: Date }): Promise<DriftRun['results'][number]> {
    const connectionId = claim.id
    try {
      const result = await connections.probeForDrift(connectionId, claim.claimedAt)
      if (result.probed && result.from !== result.to) log.warn({ connectionId, from: result.from, to: result.to, outcome: result.outcome }, 'drift detection changed a connection\'s status')
      return result
    } catch (error) {
      // The claim's lease runs out and a later run (on any replica) probes it again.
      log.warn({ err: error, connectionId }, 'drift probe failed; the connection is probed again when its claim expires')
      return { connectionId, probed: false, reason: 'error' }
    }
  }

  return {
    probesPerMinute,
    perRun,
    leaseMs,
    async runOnce (): Promise<DriftRun> {
      const claimed = await prisma.$transaction((tx) => repo.claimDue(tx, { max: perRun, perMinute: probesPerMinute, leaseMs }))
      const results: DriftRun['results'] = []
      for (let i = 0; i < claimed.length; i += concurrency) {
        results.push(...await Promise.all(claimed.slice(i, i + concurrency).map(probe)))
        if (results.some((r) => !r.probed && r.reason === 'vendor_identity')) {
          // Probing on would only fail the same way: the rest wait for their lease to end.
          log.error({ connectionIds: claimed.slice(i + concurrency).map((c) => c.id) }, 'AWS refuses deputy\'s own identity (control role refused too, or connections of several customers failed at once); drift detection changed nothing and pauses until the claims expire')
          results.push(...claimed.slice(i + concurrency).map((c) => ({ connectionId: c.id, probed: false as const, reason: 'not_run' as const })))
          break
        }
      }
      return { claimed: claimed.length, results }
    },
    /** Connections due and not yet claimed (the metrics read it at each scrape). */
    backlog: () => repo.countDue(prisma)
  }
}

export type DriftScheduler = ReturnType<typeof createDriftScheduler>
