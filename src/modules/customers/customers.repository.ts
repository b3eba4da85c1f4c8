// Prisma queries for customers; every read takes the caller's tenant scope.
import type { PrismaClient } from '../../db/database.js'
import type { Customer } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import { CREATED_ORDER, CREATED_ORDER_DESC, createdAfter, createdBefore, type CreatedKey } from '../../db/keyset.js'

type Db = Pick<PrismaClient, 'customer'>
type SqlDb = Pick<PrismaClient, '$queryRaw'>

export type CustomerRow = Customer
/** Who imposed a suspension: the vendor, or a client bound to the customer (its tenant). */
export type SuspensionOrigin = NonNullable<Customer['suspendedBy']>

export function createCustomersRepository () {
  return {
    /** Returns null when externalRef is already taken. */
    // ON CONFLICT DO NOTHING rather than catching P2002: a failed statement would abort the
    // surrounding transaction.
    async insert (db: Db, data: { name: string, externalRef: string | null }): Promise<CustomerRow | null> {
      const [created] = await db.customer.createManyAndReturn({ data: [data], skipDuplicates: true })
      return created ?? null
    },
    findById (db: Db, scope: TenantScope, id: string) {
      if (scope.customerId !== null && scope.customerId !== id) return Promise.resolve(null)
      return db.customer.findUnique({ where: { id } })
    },
    /**
     * The customer's status under a share lock (null if there is no such customer): a
     * registration reads it in the transaction that inserts the connection, so a suspension or
     * an offboarding (which update the row) either committed first or waits.
     */
    async lockStatus (db: SqlDb, id: string): Promise<string | null> {
      const rows = await db.$queryRaw<Array<{ status: string }>>`SELECT "status"::text AS "status" FROM "customers" WHERE "id" = ${id}::uuid FOR SHARE`
      return rows[0]?.status ?? null
    },
    /**
     * The customer's status and who suspended it, under a row lock held until the transaction
     * ends (a suspension or a resumption decides on it); null if there is no such customer.
     */
    async lockForChange (db: SqlDb, id: string): Promise<{ status: CustomerRow['status'], suspendedBy: SuspensionOrigin | null } | null> {
      const rows = await db.$queryRaw<Array<{ status: CustomerRow['status'], suspendedBy: SuspensionOrigin | null }>>`SELECT "status"::text AS "status", "suspended_by"::text AS "suspendedBy" FROM "customers" WHERE "id" = ${id}::uuid FOR UPDATE`
      return rows[0] ?? null
    },
    /**
     * Moves the status only from `from`; `suspendedBy` is who imposed the new state's suspension
     * (null when it is not suspended). Null when the customer was not in `from` any more.
     */
    async setStatus (db: Db, id: string, from: CustomerRow['status'], to: CustomerRow['status'], suspendedBy: SuspensionOrigin | null = null): Promise<CustomerRow | null> {
      const [row] = await db.customer.updateManyAndReturn({ where: { id, status: from }, data: { status: to, suspendedBy } })
      return row ?? null
    },
    findByExternalRef (db: Db, scope: TenantScope, externalRef: string) {
      return db.customer.findFirst({ where: { externalRef, id: scope.customerId ?? undefined } })
    },
    list (db: Db, scope: TenantScope, filter: CustomerFilter, page: { limit: number, after?: CreatedKey | undefined, newestFirst?: boolean }) {
      const { after, newestFirst = false } = page
      return db.customer.findMany({
        where: {
          ...matching(scope, filter),
          // AND, not a spread: the keyset position is an OR of its own.
          AND: [searching(filter), newestFirst ? createdBefore(after) : createdAfter(after)]
        },
        orderBy: newestFirst ? CREATED_ORDER_DESC : CREATED_ORDER,
        take: page.limit + 1
      })
    },
    /** How many customers the filter matches in the scope (the list's total). */
    count (db: Db, scope: TenantScope, filter: CustomerFilter) {
      return db.customer.count({ where: { ...matching(scope, filter), AND: [searching(filter)] } })
    }
  }
}

const matching = (scope: TenantScope, filter: CustomerFilter) => ({ id: scope.customerId ?? undefined, status: filter.status })

const searching = ({ search }: CustomerFilter) => search === undefined
  ? {}
  : { OR: [{ name: { contains: likeLiteral(search), mode: 'insensitive' as const } }, { externalRef: { contains: likeLiteral(search), mode: 'insensitive' as const } }] }

// Prisma's contains is an ILIKE that passes % and _ through as wildcards; escaped with
// PostgreSQL's default LIKE escape (backslash) they match themselves.
const likeLiteral = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)

export interface CustomerFilter { search?: string | undefined, status?: CustomerRow['status'] | undefined }

export type CustomersRepository = ReturnType<typeof createCustomersRepository>
