// Customers: the vendor's tenants, each of which may own several AWS accounts, and their
// lifecycle: active, suspended (reversible), offboarded (final).
import { performance } from 'node:perf_hooks'
import type { PrismaClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { conflict, forbidden, notFound } from '../../lib/errors.js'
import { createdCursorKey, decodeCreatedCursor, toPage, type Page } from '../../lib/pagination.js'
import type { ApiClientsRepository } from '../api-clients/api-clients.repository.js'
import { toApiClientView } from '../api-clients/api-clients.service.js'
import type { TokenCache } from '../api-clients/token-cache.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { ConnectionsRepository } from '../connections/connections.repository.js'
import { revocationImpact, toConnectionView } from '../connections/connections.service.js'
import type { ExternalIdsRepository } from '../external-ids/external-ids.repository.js'
import { toExternalIdView } from '../external-ids/external-ids.service.js'
import type { CustomerFilter, CustomerRow, CustomersRepository, SuspensionOrigin } from './customers.repository.js'
import type { CreateCustomerInput, CustomerView, OffboardedCustomerView } from './customers.schemas.js'

export const toCustomerView = (row: CustomerRow): CustomerView => ({
  id: row.id,
  name: row.name,
  externalRef: row.externalRef,
  status: row.status,
  suspendedBy: row.suspendedBy,
  createdAt: row.createdAt.toISOString()
})

export interface Deps {
  prisma: PrismaClient
  customersRepository: CustomersRepository
  connectionsRepository: Pick<ConnectionsRepository, 'lockForCustomer' | 'revokeLiveForCustomer' | 'listIdsForCustomer' | 'latestOutstandingExpiration'>
  externalIdsRepository: Pick<ExternalIdsRepository, 'retireActiveForCustomer'>
  apiClientsRepository: Pick<ApiClientsRepository, 'revokeBoundToCustomer'>
  audit: AuditRecorder
  /** This process's resolved tokens: offboarding drops its revoked clients at once. */
  tokenCache?: TokenCache | undefined
}

const offboarded = (id: string) => conflict('customer_offboarded', `customer ${id} is offboarded; offboarding is final`)

export function createCustomersService (deps: Deps) {
  const { prisma, customersRepository: repo, connectionsRepository, externalIdsRepository, apiClientsRepository, audit, tokenCache } = deps

  /**
   * Suspends or resumes under the customer's row lock, taken after its connection rows (the
   * order issuance and offboarding share), so an issuance holding its share lock commits before,
   * and one that locks after reads the change. A client bound to the customer imposes a tenant's
   * suspension and lifts only a tenant's; the vendor (an unbound client, the CLI) any.
   */
  async function changeStatus (caller: Caller, id: string, to: 'suspended' | 'active', reason: string | undefined): Promise<CustomerView> {
    const scope = tenantOf(caller.actor)
    const origin: SuspensionOrigin = caller.actor.customerId === null ? 'vendor' : 'tenant'
    const outcome = await prisma.$transaction(async (tx) => {
      if (await repo.findById(tx, scope, id) === null) throw notFound('customer', id)
      await connectionsRepository.lockForCustomer(tx, id)
      const now = await repo.lockForChange(tx, id)
      if (now === null) throw notFound('customer', id)
      if (now.status === 'offboarded') throw offboarded(id)
      const base = { outcome: 'success' as const, actorClientId: caller.actor.clientId, request: caller.request, customerId: id, resourceType: 'customer', resourceId: id }
      if (to === 'suspended') {
        // The vendor takes over a suspension its tenant imposed, so the tenant cannot lift it.
        const takeover = now.status === 'suspended' && origin === 'vendor' && now.suspendedBy === 'tenant'
        if (now.status === 'suspended' && !takeover) throw conflict('customer_already_suspended', `customer ${id} is already suspended (by the ${now.suspendedBy ?? 'vendor'})`)
        const updated = await repo.setStatus(tx, id, now.status, 'suspended', origin)
        if (updated === null) throw new Error(`customer ${id} changed under its row lock`)
        await audit.record(tx, { ...base, action: 'customer.suspended', details: { reason, from: now.status, to, suspendedBy: origin, ...(takeover ? { previouslySuspendedBy: 'tenant' } : {}) } })
        return updated
      }
      if (now.status !== 'suspended') throw conflict('customer_not_suspended', `customer ${id} is ${now.status}, not suspended; only a suspended customer can be resumed`)
      // A suspension from before origins were recorded counts as the vendor's.
      const suspendedBy = now.suspendedBy ?? 'vendor'
      if (origin === 'tenant' && suspendedBy !== 'tenant') {
        // The refusal is the only thing this transaction commits.
        await audit.record(tx, { ...base, action: 'auth.forbidden', outcome: 'denied', details: { reason: 'suspension_imposed_by_vendor', operation: 'resume' } })
        return null
      }
      const updated = await repo.setStatus(tx, id, 'suspended', 'active')
      if (updated === null) throw new Error(`customer ${id} changed under its row lock`)
      await audit.record(tx, { ...base, action: 'customer.resumed', details: { from: 'suspended', to, suspendedBy } })
      return updated
    })
    if (outcome === null) {
      throw forbidden('suspension_imposed_by_vendor', `customer ${id} was suspended by the vendor, not by this tenant; only the vendor can resume it`)
    }
    return toCustomerView(outcome)
  }

  return {
    async create (caller: Caller, input: CreateCustomerInput): Promise<CustomerView> {
      if (caller.actor.customerId !== null) {
        await audit.record(prisma, { action: 'auth.forbidden', outcome: 'denied', actorClientId: caller.actor.clientId, request: caller.request, customerId: caller.actor.customerId, resourceType: 'customer', details: { reason: 'customer_bound_client' } })
        throw forbidden('customer_bound_client', 'a client bound to a customer cannot create customers')
      }
      const externalRef = input.externalRef ?? null
      const row = await prisma.$transaction(async (tx) => {
        const created = await repo.insert(tx, { name: input.name, externalRef })
        if (created === null) return null
        await audit.record(tx, {
          action: 'customer.created',
          outcome: 'success',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId: created.id,
          resourceType: 'customer',
          resourceId: created.id,
          details: { name: created.name, externalRef }
        })
        return created
      })
      if (row === null) {
        const existing = externalRef === null ? null : await repo.findByExternalRef(prisma, { customerId: null }, externalRef)
        throw conflict('customer_external_ref_taken', `another customer already has externalRef "${externalRef ?? ''}"`, { existingCustomerId: existing?.id ?? null })
      }
      return toCustomerView(row)
    },

    /** Suspends a customer: no issuance and no probing until it is resumed. */
    async suspend (caller: Caller, id: string, reason: string): Promise<CustomerView> {
      return changeStatus(caller, id, 'suspended', reason)
    },

    async resume (caller: Caller, id: string): Promise<CustomerView> {
      return changeStatus(caller, id, 'active', undefined)
    },

    /**
     * Offboards a customer for good, in one transaction: every live connection revoked, every
     * active external ID retired, every API client bound to it revoked, the customer offboarded
     * (final: a trigger refuses any way back). Nothing is deleted. Only an unbound client (or the
     * CLI) may do it.
     */
    async offboard (caller: Caller, id: string, reason: string): Promise<OffboardedCustomerView> {
      const started = performance.now()
      if (caller.actor.customerId !== null) {
        await audit.record(prisma, { action: 'auth.forbidden', outcome: 'denied', actorClientId: caller.actor.clientId, request: caller.request, customerId: caller.actor.customerId, resourceType: 'customer', resourceId: id, details: { reason: 'customer_bound_client', operation: 'offboard' } })
        throw forbidden('customer_bound_client', 'a client bound to a customer cannot offboard customers; offboarding is final and needs an unbound client')
      }
      const scope = tenantOf(caller.actor)
      const result = await prisma.$transaction(async (tx) => {
        const customer = await repo.findById(tx, scope, id)
        if (customer === null) throw notFound('customer', id)
        if (customer.status === 'offboarded') throw offboarded(id)
        // Lock order shared with suspension and issuance: connection rows, then the customer
        // (registrations hold it FOR SHARE and commit first), then external IDs.
        await connectionsRepository.lockForCustomer(tx, id)
        const updated = await repo.setStatus(tx, id, customer.status, 'offboarded')
        if (updated === null) {
          // Another offboarding (or a suspension) committed while this waited for the locks.
          if ((await repo.findById(tx, scope, id))?.status === 'offboarded') throw offboarded(id)
          throw conflict('customer_changed', `customer ${id} changed while it was being offboarded; retry`)
        }
        const at = new Date()
        const retired = await externalIdsRepository.retireActiveForCustomer(tx, id, `customer offboarded: ${reason}`, at)
        // A new statement: it also sees connections registered while this waited for the customer.
        const revoked = await connectionsRepository.revokeLiveForCustomer(tx, id, `customer offboarded: ${reason}`, at)
        const base = { outcome: 'success' as const, actorClientId: caller.actor.clientId, request: caller.request, customerId: id }
        for (const connection of revoked) {
          await audit.record(tx, { ...base, action: 'connection.revoked', resourceType: 'connection', resourceId: connection.id, details: { reason: 'customer_offboarded', roleArn: connection.roleArn } })
        }
        for (const externalId of retired) {
          await audit.record(tx, { ...base, action: 'external_id.retired', resourceType: 'external_id', resourceId: externalId.id, details: { awsAccountId: externalId.awsAccountId, reason: 'customer_offboarded' } })
        }
        // Last, as issuance locks the client after the connection and the customer. The tenant's
        // own tokens would otherwise outlive it (and keep reading its trail).
        const revokedClients = await apiClientsRepository.revokeBoundToCustomer(tx, id, at)
        for (const client of revokedClients) {
          await audit.record(tx, { ...base, action: 'api_client.revoked', resourceType: 'api_client', resourceId: client.id, details: { reason: 'customer_offboarded' } })
        }
        const connectionIds = (await connectionsRepository.listIdsForCustomer(tx, id))
        const impact = await revocationImpact(connectionsRepository, tx, connectionIds, at, started)
        await audit.record(tx, {
          ...base,
          action: 'customer.offboarded',
          resourceType: 'customer',
          resourceId: id,
          details: { reason, from: customer.status, revokedConnections: revoked.map((c) => c.id), retiredExternalIds: retired.map((e) => e.id), revokedApiClients: revokedClients.map((c) => c.id), outstandingCredentialsExpireAt: impact.outstandingCredentialsExpireAt, tookMs: impact.tookMs }
        })
        return {
          customer: toCustomerView(updated),
          revokedConnections: revoked.map(toConnectionView),
          retiredExternalIds: retired.map(toExternalIdView),
          revokedApiClients: revokedClients.map(toApiClientView),
          impact
        }
      })
      // This process at once; the others when the trigger's notification reaches them.
      for (const client of result.revokedApiClients) tokenCache?.invalidate(client.id)
      return result
    },

    async get (caller: Caller, id: string): Promise<CustomerView> {
      const row = await repo.findById(prisma, tenantOf(caller.actor), id)
      if (row === null) throw notFound('customer', id)
      return toCustomerView(row)
    },

    async list (caller: Caller, query: CustomerFilter & { limit?: number | undefined, cursor?: string | undefined, order?: 'asc' | 'desc' | undefined }): Promise<Page<CustomerView> & { total: number }> {
      const limit = query.limit ?? 50
      const after = query.cursor === undefined ? undefined : decodeCreatedCursor(query.cursor)
      const scope = tenantOf(caller.actor)
      const filter = { search: query.search, status: query.status }
      const [rows, total] = await Promise.all([
        repo.list(prisma, scope, filter, { limit, after, newestFirst: query.order === 'desc' }),
        repo.count(prisma, scope, filter)
      ])
      return { ...toPage(rows, limit, toCustomerView, createdCursorKey), total }
    }
  }
}

export type CustomersService = ReturnType<typeof createCustomersService>
