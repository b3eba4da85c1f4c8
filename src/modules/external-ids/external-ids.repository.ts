// Prisma queries for external IDs. There is deliberately no method that changes a value: the
// only write after insert is retire(), and the database trigger refuses anything else.
import type { PrismaClient } from '../../db/database.js'
import type { ExternalId } from '../../generated/prisma/client.js'
import type { TenantScope } from '../../lib/caller.js'
import { CREATED_ORDER, createdAfter, type CreatedKey } from '../../db/keyset.js'
import { advisoryXactLock } from '../../db/locks.js'
import type { SqlClient } from '../../db/sql-client.js'
import { AUDIT_COLUMNS, auditPlaceholders, type PreparedAuditEvent } from '../audit/audit.recorder.js'
import type { IssuedTo } from '../connections/issued-ids.js'

type Db = Pick<PrismaClient, 'externalId'>
type SqlDb = Pick<PrismaClient, '$executeRaw'>

export type ExternalIdRow = ExternalId

/** What a mint statement found and did: see mintInOneStatement. */
export interface MintResult {
  /** The customer's status (share-locked), null when there is no such customer. */
  customerStatus: string | null
  /** The account's active external ID that refused the mint, if any. */
  existingId: string | null
  created: ExternalIdRow | null
}

// One statement: share-lock the customer (an offboarding or a suspension either committed first
// and is seen, or waits for this mint), read the account's active ID, insert the new one and one
// audit event, external_id.minted or external_id.mint_refused. A concurrent mint of the same
// account that commits after this statement's snapshot is caught by the one-active-ID trigger
// (a unique_violation on external_ids_one_active_per_account): the caller retries the slow way.
const refusedPlaceholders = auditPlaceholders(18).split(', ').map((placeholder, i) => (i === 7 ? `coalesce(${placeholder}::text, x."id"::text)` : placeholder)).join(', ')
const MINT_SQL = `
WITH customer AS (
  SELECT "id", "status"::text AS "status" FROM "customers" WHERE "id" = $1::uuid FOR SHARE
), existing AS (
  SELECT e."id" FROM "external_ids" e JOIN customer c ON c."id" = e."customer_id"
   WHERE c."status" = 'active' AND e."aws_account_id" = $2 AND e."status" = 'active'
   ORDER BY e."created_at" LIMIT 1
), inserted AS (
  INSERT INTO "external_ids" ("id", "customer_id", "aws_account_id", "value", "created_at")
  SELECT $3::uuid, c."id", $2, $4::uuid, $5::timestamptz FROM customer c
   WHERE c."status" = 'active' AND NOT EXISTS (SELECT 1 FROM existing)
  RETURNING *
), audited AS (
  INSERT INTO "audit_events" (${AUDIT_COLUMNS})
  SELECT ${auditPlaceholders(6)} FROM inserted
  UNION ALL
  SELECT ${refusedPlaceholders} FROM existing x
  RETURNING "id"
)
SELECT c."status" AS "customerStatus", x."id"::text AS "existingId",
       i."id"::text AS "id", i."customer_id"::text AS "customerId", i."aws_account_id" AS "awsAccountId",
       i."value"::text AS "value", i."status"::text AS "status", i."created_at" AS "createdAt",
       i."retired_at" AS "retiredAt", i."retire_reason" AS "retireReason", i."predecessor_id"::text AS "predecessorId",
       (SELECT count(*) FROM audited)::int AS "audited"
  FROM (SELECT 1) AS one
  LEFT JOIN customer c ON true LEFT JOIN existing x ON true LEFT JOIN inserted i ON true`

interface MintRow extends Record<string, unknown> {
  customerStatus: string | null
  existingId: string | null
  id: string | null
  customerId: string
  awsAccountId: string
  value: string
  status: ExternalIdRow['status']
  createdAt: Date | string
  retiredAt: Date | string | null
  retireReason: string | null
  predecessorId: string | null
  audited: number
}

export function createExternalIdsRepository () {
  return {
    /**
     * A mint in one round trip (the hot path; bench/RESULTS.md): `minted` is written when the ID
     * is inserted, `refused` (its resource id set to the existing ID) when the account has one.
     */
    async mintInOneStatement (sql: SqlClient, input: { customerId: string, awsAccountId: string, id: string, value: string, minted: PreparedAuditEvent, refused: PreparedAuditEvent }): Promise<MintResult> {
      const [row] = await sql.query<MintRow>(MINT_SQL, [input.customerId, input.awsAccountId, input.id, input.value, input.minted.params[1], ...input.minted.params, ...input.refused.params])
      if (row === undefined) throw new Error('the mint statement returned no row')
      const created = row.id === null
        ? null
        : { id: row.id, customerId: row.customerId, awsAccountId: row.awsAccountId, value: row.value, status: row.status, createdAt: new Date(row.createdAt), retiredAt: row.retiredAt === null ? null : new Date(row.retiredAt), retireReason: row.retireReason, predecessorId: row.predecessorId }
      if (created === null && row.existingId === null && row.customerStatus === 'active') throw new Error('the mint statement neither inserted nor found an active external ID')
      return { customerStatus: row.customerStatus, existingId: row.existingId, created }
    },
    /**
     * Takes the (customer, account) lock the database's one-active-ID trigger takes (see the
     * rotation migration), so a mint or a rotation can read what is active and then insert
     * without a concurrent one slipping in between. Held until the transaction ends.
     */
    async lockAccount (db: SqlDb, customerId: string, awsAccountId: string): Promise<void> {
      await advisoryXactLock(db, `deputy.external-ids:${customerId}:${awsAccountId}`)
    },
    /**
     * Where deputy issued each of `values` (lowercase UUIDs), relative to one customer's account:
     * that account (and whether the ID is active), another account of the customer, or another
     * customer, never saying which. Values deputy never issued are absent.
     */
    async whereIssued (db: Db, owner: { customerId: string, awsAccountId: string }, values: string[]): Promise<Map<string, IssuedTo>> {
      const rows = values.length === 0 ? [] : await db.externalId.findMany({ where: { value: { in: values } }, select: { value: true, customerId: true, awsAccountId: true, status: true } })
      const customerId = owner.customerId.toLowerCase()
      return new Map(rows.map((row): [string, IssuedTo] => [row.value, row.customerId.toLowerCase() !== customerId
        ? { kind: 'other_customer' }
        : row.awsAccountId !== owner.awsAccountId ? { kind: 'this_customer', awsAccountId: row.awsAccountId } : { kind: 'this_account', status: row.status }]))
    },
    /** Every active ID of a (customer, account): one, or a predecessor and its successor. */
    listActiveForAccount (db: Db, customerId: string, awsAccountId: string) {
      return db.externalId.findMany({ where: { customerId, awsAccountId, status: 'active' }, orderBy: { createdAt: 'asc' } })
    },
    /** Inserts an active external ID (a successor when predecessorId is set); call under lockAccount. */
    insertActive (db: Db, data: { customerId: string, awsAccountId: string, value: string, predecessorId?: string }): Promise<ExternalIdRow> {
      return db.externalId.create({ data })
    },
    /**
     * The id of the active successor of an external ID, share-locked so that it cannot be retired
     * (the rotation abandoned) until this transaction ends; null when there is none.
     */
    async lockActiveSuccessor (db: Pick<PrismaClient, '$queryRaw'>, predecessorId: string): Promise<string | null> {
      const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT "id" FROM "external_ids" WHERE "predecessor_id" = ${predecessorId}::uuid AND "status" = 'active' FOR SHARE`
      return rows[0]?.id ?? null
    },
    /** The active successor of an external ID (a rotation under way), if any. */
    findActiveSuccessor (db: Db, predecessorId: string) {
      return db.externalId.findFirst({ where: { predecessorId, status: 'active' } })
    },
    findById (db: Db, scope: TenantScope, id: string) {
      return db.externalId.findFirst({ where: { id, customerId: scope.customerId ?? undefined } })
    },
    list (db: Db, scope: TenantScope, customerId: string, filter: { awsAccountId?: string | undefined, status?: 'active' | 'retired' | undefined }, page: { limit: number, after?: CreatedKey | undefined }) {
      if (scope.customerId !== null && scope.customerId !== customerId) return Promise.resolve([])
      const { after } = page
      return db.externalId.findMany({
        where: {
          customerId,
          awsAccountId: filter.awsAccountId,
          status: filter.status,
          ...createdAfter(after)
        },
        orderBy: CREATED_ORDER,
        take: page.limit + 1
      })
    },
    /** Retires every active ID of a customer (offboarding); returns them as they are now. */
    retireActiveForCustomer (db: Db, customerId: string, reason: string, at: Date): Promise<ExternalIdRow[]> {
      return db.externalId.updateManyAndReturn({
        where: { customerId, status: 'active' },
        data: { status: 'retired', retiredAt: at, retireReason: reason }
      })
    },
    /** Moves an active ID to retired; returns false when it was not active any more. */
    async retire (db: Db, scope: TenantScope, id: string, reason: string, at: Date): Promise<boolean> {
      const { count } = await db.externalId.updateMany({
        where: { id, status: 'active', customerId: scope.customerId ?? undefined },
        data: { status: 'retired', retiredAt: at, retireReason: reason }
      })
      return count === 1
    }
  }
}

export type ExternalIdsRepository = ReturnType<typeof createExternalIdsRepository>
