// The external-ID registry: one random, immutable ID per customer AWS account (AWS SEC03-BP09).
import { randomUUID } from 'node:crypto'
import type { PrismaClient, SqlClient } from '../../db/database.js'
import { isUniqueViolationOf } from '../../db/errors.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError, conflict, notFound } from '../../lib/errors.js'
import { createdCursorKey, decodeCreatedCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { ConnectionsRepository } from '../connections/connections.repository.js'
import type { CustomersRepository } from '../customers/customers.repository.js'
import type { ExternalIdRow, ExternalIdsRepository } from './external-ids.repository.js'
import type { ExternalIdView, ListExternalIdsQuery } from './external-ids.schemas.js'

export interface Deps {
  prisma: PrismaClient
  sql: SqlClient
  externalIdsRepository: ExternalIdsRepository
  customersRepository: Pick<CustomersRepository, 'findById' | 'lockStatus'>
  connectionsRepository: Pick<ConnectionsRepository, 'revokeLiveForExternalId' | 'lockLiveForExternalId'>
  audit: AuditRecorder
}

export const toExternalIdView = (row: ExternalIdRow): ExternalIdView => ({
  id: row.id,
  customerId: row.customerId,
  awsAccountId: row.awsAccountId,
  externalId: row.value,
  status: row.status,
  createdAt: row.createdAt.toISOString(),
  retiredAt: row.retiredAt?.toISOString() ?? null,
  retireReason: row.retireReason,
  predecessorId: row.predecessorId
})

export function createExternalIdsService (deps: Deps) {
  const { prisma, sql, externalIdsRepository: repo, customersRepository, connectionsRepository, audit } = deps
  const notActive = (customerId: string, status: string): AppError => new AppError({ status: 409, code: 'customer_not_active', title: 'Conflict', detail: `customer ${customerId} is ${status}; external IDs are minted only for active customers` })
  const exists = (customerId: string, awsAccountId: string, existingId: string | null): AppError => conflict('external_id_exists', `customer ${customerId} already has an active external ID for AWS account ${awsAccountId}${existingId === null ? '' : ` (${existingId})`}; retire it first to mint a new one`, { existingExternalIdId: existingId })

  /**
   * The same mint in an interactive transaction under the account's lock: taken when a
   * concurrent mint of the same account committed during the single statement (rare), so the
   * refusal is audited like any other.
   */
  async function mintUnderLock (caller: Caller, customerId: string, awsAccountId: string): Promise<ExternalIdView> {
    const scope = tenantOf(caller.actor)
    const outcome = await prisma.$transaction(async (tx) => {
      // Share-locked like the single statement's: an offboarding either committed or waits.
      const status = scope.customerId === null || scope.customerId === customerId ? await customersRepository.lockStatus(tx, customerId) : null
      if (status === null) throw notFound('customer', customerId)
      if (status !== 'active') throw notActive(customerId, status)
      // Concurrent mints for one account queue here; the database trigger checks the same rule.
      // The database's spelling of the id (lowercase): the trigger takes the same lock on the same text.
      const canonicalId = customerId.toLowerCase()
      await repo.lockAccount(tx, canonicalId, awsAccountId)
      const [existing] = await repo.listActiveForAccount(tx, canonicalId, awsAccountId)
      const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId, resourceType: 'external_id' }
      if (existing !== undefined) {
        await audit.record(tx, {
          ...base,
          action: 'external_id.mint_refused',
          outcome: 'failure',
          ...(existing === null ? {} : { resourceId: existing.id }),
          details: { awsAccountId, code: 'external_id_exists' }
        })
        return { created: undefined, existing }
      }
      // crypto.randomUUID is a CSPRNG-backed version 4 UUID: 122 random bits, not guessable.
      const created = await repo.insertActive(tx, { customerId, awsAccountId, value: randomUUID() })
      await audit.record(tx, { ...base, action: 'external_id.minted', outcome: 'success', resourceId: created.id, details: { awsAccountId, externalId: created.value } })
      return { created }
    })
    if (outcome.created !== undefined) return toExternalIdView(outcome.created)
    throw exists(customerId, awsAccountId, outcome.existing?.id ?? null)
  }

  return {
    /** One statement: see ExternalIdsRepository.mintInOneStatement. */
    async mint (caller: Caller, customerId: string, awsAccountId: string): Promise<ExternalIdView> {
      const scope = tenantOf(caller.actor)
      if (scope.customerId !== null && scope.customerId !== customerId) throw notFound('customer', customerId)
      // crypto.randomUUID is a CSPRNG-backed version 4 UUID: 122 random bits, not guessable.
      const id = randomUUID()
      const value = randomUUID()
      const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId, resourceType: 'external_id' }
      const minted = audit.prepare({ ...base, action: 'external_id.minted', outcome: 'success', resourceId: id, details: { awsAccountId, externalId: value } })
      const refused = audit.prepare({ ...base, action: 'external_id.mint_refused', outcome: 'failure', details: { awsAccountId, code: 'external_id_exists' } })
      let result: Awaited<ReturnType<typeof repo.mintInOneStatement>>
      try {
        result = await repo.mintInOneStatement(sql, { customerId, awsAccountId, id, value, minted, refused })
      } catch (error) {
        if (!isUniqueViolationOf(error, 'external_ids_one_active_per_account')) throw error
        return mintUnderLock(caller, customerId, awsAccountId)
      }
      if (result.customerStatus === null) throw notFound('customer', customerId)
      if (result.customerStatus !== 'active') throw notActive(customerId, result.customerStatus)
      if (result.created !== null) {
        audit.recorded(minted)
        return toExternalIdView(result.created)
      }
      audit.recorded(refused)
      throw exists(customerId, awsAccountId, result.existingId)
    },

    /**
     * Step one of a rotation: mints a successor for the same customer and account, linked to
     * `id`. Both stay active (the predecessor keeps issuing) until a verification of the
     * connection passes with the successor; retiring the successor abandons the rotation.
     */
    async rotate (caller: Caller, id: string): Promise<{ predecessor: ExternalIdView, successor: ExternalIdView }> {
      const scope = tenantOf(caller.actor)
      return prisma.$transaction(async (tx) => {
        const predecessor = await repo.findById(tx, scope, id)
        if (predecessor === null) throw notFound('external ID', id)
        // Share-locked as a mint does: an offboarding (which retires every active ID) either
        // committed first and is seen here, or waits for this successor and retires it too.
        const status = await customersRepository.lockStatus(tx, predecessor.customerId)
        if (status !== 'active') throw conflict('customer_not_active', `customer ${predecessor.customerId} is ${status ?? 'gone'}; external IDs are rotated only for active customers`)
        await repo.lockAccount(tx, predecessor.customerId, predecessor.awsAccountId)
        const active = await repo.listActiveForAccount(tx, predecessor.customerId, predecessor.awsAccountId)
        if (!active.some((row) => row.id === id)) throw conflict('external_id_not_active', `external ID ${id} is retired; mint a new one for account ${predecessor.awsAccountId}`)
        if (active.length > 1) {
          const successor = active.find((row) => row.predecessorId !== null) ?? active[1]
          throw conflict('rotation_in_progress', `account ${predecessor.awsAccountId} is already rotating to external ID ${successor?.id ?? ''}; finish it (verify the connection) or abandon it (retire the successor) first`, { successorExternalIdId: successor?.id ?? null })
        }
        const successor = await repo.insertActive(tx, { customerId: predecessor.customerId, awsAccountId: predecessor.awsAccountId, value: randomUUID(), predecessorId: id })
        await audit.record(tx, {
          action: 'external_id.minted',
          outcome: 'success',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId: predecessor.customerId,
          resourceType: 'external_id',
          resourceId: successor.id,
          details: { awsAccountId: successor.awsAccountId, externalId: successor.value, predecessorId: id, rotation: 'started' }
        })
        return { predecessor: toExternalIdView(predecessor), successor: toExternalIdView(successor) }
      })
    },

    async get (caller: Caller, id: string): Promise<ExternalIdView> {
      const row = await repo.findById(prisma, tenantOf(caller.actor), id)
      if (row === null) throw notFound('external ID', id)
      return toExternalIdView(row)
    },

    async list (caller: Caller, customerId: string, query: ListExternalIdsQuery): Promise<Page<ExternalIdView>> {
      const scope = tenantOf(caller.actor)
      if (await customersRepository.findById(prisma, scope, customerId) === null) throw notFound('customer', customerId)
      const limit = query.limit ?? 50
      const after = query.cursor === undefined ? undefined : decodeCreatedCursor(query.cursor)
      const rows = await repo.list(prisma, scope, customerId, { awsAccountId: query.awsAccountId, status: query.status }, { limit, after })
      return toPage(rows, limit, toExternalIdView, createdCursorKey)
    },

    async retire (caller: Caller, id: string, reason: string): Promise<ExternalIdView> {
      const scope = tenantOf(caller.actor)
      return prisma.$transaction(async (tx) => {
        const row = await repo.findById(tx, scope, id)
        if (row === null) throw notFound('external ID', id)
        const at = new Date()
        // Lock order shared with issuance: connection rows first, then the external ID.
        await connectionsRepository.lockLiveForExternalId(tx, id)
        if (!await repo.retire(tx, scope, id, reason, at)) {
          throw conflict('external_id_already_retired', `external ID ${id} is already retired; a retired ID is never reactivated`)
        }
        // A connection cannot outlive the external ID its trust policy names.
        for (const revoked of await connectionsRepository.revokeLiveForExternalId(tx, id, `external ID retired: ${reason}`, at)) {
          await audit.record(tx, {
            action: 'connection.revoked',
            outcome: 'success',
            actorClientId: caller.actor.clientId,
            request: caller.request,
            customerId: row.customerId,
            resourceType: 'connection',
            resourceId: revoked.id,
            details: { reason: 'external_id_retired', externalIdId: id, roleArn: revoked.roleArn }
          })
        }
        await audit.record(tx, {
          action: 'external_id.retired',
          outcome: 'success',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId: row.customerId,
          resourceType: 'external_id',
          resourceId: id,
          details: { awsAccountId: row.awsAccountId, reason }
        })
        const retired = await repo.findById(tx, scope, id)
        return toExternalIdView(retired ?? row)
      })
    }
  }
}

export type ExternalIdsService = ReturnType<typeof createExternalIdsService>
