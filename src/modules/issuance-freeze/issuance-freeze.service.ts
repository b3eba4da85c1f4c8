// The emergency stop: while issuance is frozen, no credentials leave deputy, on any replica. The
// state is the issuance_freeze row, not memory; issuance checks it before asking STS and again,
// under a share lock, in the transaction that commits its audit event.
import type { PrismaClient } from '../../db/database.js'
import type { Caller } from '../../lib/caller.js'
import { AppError, conflict } from '../../lib/errors.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { IssuanceFreezeRepository, IssuanceFreezeRow } from './issuance-freeze.repository.js'
import type { IssuanceFreezeView } from './issuance-freeze.schemas.js'

export const toIssuanceFreezeView = (row: IssuanceFreezeRow): IssuanceFreezeView => ({
  frozen: row.frozen,
  reason: row.reason,
  changedAt: row.changedAt.toISOString(),
  changedBy: row.changedBy
})

/** What issuance answers while frozen. */
export const issuanceFrozen = (reason: string | null): AppError => new AppError({
  status: 503,
  code: 'issuance_frozen',
  title: 'Service unavailable',
  detail: `credential issuance is frozen by an operator${reason === null ? '' : ` (${reason})`}; no credentials leave deputy until it is unfrozen`,
  headers: { 'retry-after': '60' }
})

export function createIssuanceFreezeService (deps: { prisma: PrismaClient, issuanceFreezeRepository: IssuanceFreezeRepository, audit: AuditRecorder }) {
  const { prisma, issuanceFreezeRepository: repo, audit } = deps

  async function change (caller: Caller, frozen: boolean, reason: string | null): Promise<IssuanceFreezeView> {
    return prisma.$transaction(async (tx) => {
      const was = await repo.lock(tx)
      if (was === frozen) {
        throw frozen
          ? conflict('issuance_already_frozen', 'issuance is already frozen; unfreeze it first to freeze it with another reason')
          : conflict('issuance_not_frozen', 'issuance is not frozen')
      }
      const before = frozen ? null : (await repo.read(tx)).reason
      const row = await repo.set(tx, { frozen, reason, changedBy: caller.actor.clientId, at: new Date() })
      await audit.record(tx, {
        action: frozen ? 'issuance.frozen' : 'issuance.unfrozen',
        outcome: 'success',
        actorClientId: caller.actor.clientId,
        request: caller.request,
        customerId: null,
        resourceType: 'issuance_freeze',
        details: frozen ? { reason } : { frozenFor: before }
      })
      return toIssuanceFreezeView(row)
    })
  }

  return {
    freeze: (caller: Caller, reason: string) => change(caller, true, reason),
    unfreeze: (caller: Caller) => change(caller, false, null),
    async state (): Promise<IssuanceFreezeView> {
      return toIssuanceFreezeView(await repo.read(prisma))
    }
  }
}

export type IssuanceFreezeService = ReturnType<typeof createIssuanceFreezeService>
