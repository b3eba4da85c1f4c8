// Probes call STS in a customer's account on demand, so they are rationed: at most N probe
// starts per customer per hour, and a cooldown between two probes of one connection. The ledger
// is the audit trail itself (`connection.probe_started`, written before any STS call), and each
// claim runs under an advisory lock on the customer, so concurrent requests cannot overshoot.
import type { PrismaClient } from '../../db/database.js'
import { advisoryXactLock } from '../../db/locks.js'
import type { Caller } from '../../lib/caller.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { AuditRepository } from '../audit/audit.repository.js'

const HOUR_MS = 60 * 60 * 1000

export type ProbePhase = 'registration' | 'verification' | 'issuance_check'

export interface ProbeClaim {
  customerId: string
  resource: { type: 'connection' | 'external_id', id: string }
  phase: ProbePhase
  budgetPerHour: number
  /** Least time since the last probe start of the same resource; 0 for none. */
  cooldownMs: number
  /** When the resource was last probed by other means (e.g. at registration), if known. */
  lastProbedAt?: Date
}

export type ProbeClaimResult =
  | { ok: true }
  | { ok: false, reason: 'probe_budget_exhausted' | 'probe_cooldown', retryAfterMs: number }

export function createProbeBudget (deps: { prisma: PrismaClient, audit: AuditRecorder, auditRepository: Pick<AuditRepository, 'nthLatest' | 'latestFor'>, now?: () => Date }) {
  const { prisma, audit, auditRepository } = deps
  const now = deps.now ?? (() => new Date())

  return {
    /** Spends one probe of the customer's budget, or says why not (the refusal is audited). */
    claim (caller: Caller, claim: ProbeClaim): Promise<ProbeClaimResult> {
      return prisma.$transaction(async (tx) => {
        await advisoryXactLock(tx, `deputy.probe-budget:${claim.customerId}`)
        const at = now()
        const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId: claim.customerId, resourceType: claim.resource.type, resourceId: claim.resource.id }
        let refusal: ProbeClaimResult | null = null
        if (claim.cooldownMs > 0) {
          const started = await auditRepository.latestFor(tx, { resourceId: claim.resource.id, action: 'connection.probe_started' })
          const last = Math.max(started?.getTime() ?? 0, claim.lastProbedAt?.getTime() ?? 0)
          const since = at.getTime() - last
          if (since < claim.cooldownMs) refusal = { ok: false, reason: 'probe_cooldown', retryAfterMs: claim.cooldownMs - since }
        }
        if (refusal === null) {
          const oldestCounted = await auditRepository.nthLatest(tx, { customerId: claim.customerId, action: 'connection.probe_started', since: new Date(at.getTime() - HOUR_MS) }, claim.budgetPerHour)
          if (oldestCounted !== null) refusal = { ok: false, reason: 'probe_budget_exhausted', retryAfterMs: oldestCounted.getTime() + HOUR_MS - at.getTime() }
        }
        if (refusal !== null && !refusal.ok) {
          await audit.record(tx, { ...base, action: 'connection.probe_refused', outcome: 'denied', details: { reason: refusal.reason, phase: claim.phase, budgetPerHour: claim.budgetPerHour, cooldownMs: claim.cooldownMs } })
          return refusal
        }
        await audit.record(tx, { ...base, action: 'connection.probe_started', outcome: 'success', details: { phase: claim.phase } })
        return { ok: true }
      })
    }
  }
}

export type ProbeBudget = ReturnType<typeof createProbeBudget>
