// Customers: the vendor's tenants, each of which may own several AWS accounts.
import type { PrismaClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { conflict, forbidden, notFound } from '../../lib/errors.js'
import { createdCursorKey, decodeCreatedCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { CustomerRow, CustomersRepository } from './customers.repository.js'
import type { CreateCustomerInput, CustomerView } from './customers.schemas.js'

export const toCustomerView = (row: CustomerRow): CustomerView => ({
  id: row.id,
  name: row.name,
  externalRef: row.externalRef,
  status: row.status,
  createdAt: row.createdAt.toISOString()
})

export function createCustomersService (deps: { prisma: PrismaClient, customersRepository: CustomersRepository, audit: AuditRecorder }) {
  const { prisma, customersRepository: repo, audit } = deps

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

    async get (caller: Caller, id: string): Promise<CustomerView> {
      const row = await repo.findById(prisma, tenantOf(caller.actor), id)
      if (row === null) throw notFound('customer', id)
      return toCustomerView(row)
    },

    async list (caller: Caller, query: { limit?: number | undefined, cursor?: string | undefined }): Promise<Page<CustomerView>> {
      const limit = query.limit ?? 50
      const after = query.cursor === undefined ? undefined : decodeCreatedCursor(query.cursor)
      const rows = await repo.list(prisma, tenantOf(caller.actor), {
        limit,
        after
      })
      return toPage(rows, limit, toCustomerView, createdCursorKey)
    }
  }
}

export type CustomersService = ReturnType<typeof createCustomersService>
