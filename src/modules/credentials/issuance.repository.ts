// The two statements of an issuance's hot path (bench/RESULTS.md): the read before AWS is asked,
// and the commit of the credentials.issued event after. Each is one round trip; what they do not
// settle (a refusal to audit, a lock conflict) is left to the transactional path in the service.
import type { SqlClient } from '../../db/sql-client.js'
import type { TenantScope } from '../../lib/caller.js'
import { AUDIT_COLUMNS, auditPlaceholders, type PreparedAuditEvent } from '../audit/audit.recorder.js'

/** What issuance needs of a connection, its customer and its external ID. */
export interface IssuanceTarget {
  id: string
  customerId: string
  externalIdId: string
  roleArn: string
  status: string
  /** The name and externalRef (reference) go into session tags when SESSION_TAGS names them. */
  customer: { status: string, name: string, reference: string | null }
  externalId: { value: string, status: string }
}

export interface IssuanceRead {
  /** null: no such connection within the caller's tenant. */
  connection: IssuanceTarget | null
  freeze: { frozen: boolean, reason: string | null }
}

interface ReadRow extends Record<string, unknown> {
  id: string | null
  customerId: string
  externalIdId: string
  roleArn: string
  status: string
  customerStatus: string
  customerName: string
  customerReference: string | null
  externalIdValue: string
  externalIdStatus: string
  frozen: boolean
  freezeReason: string | null
}

// The freeze row always exists (a migration inserts it), so the statement returns one row.
const READ_SQL = `
SELECT c."id"::text AS "id", c."customer_id"::text AS "customerId", c."external_id_id"::text AS "externalIdId",
       c."role_arn" AS "roleArn", c."status"::text AS "status", cu."status"::text AS "customerStatus",
       cu."name" AS "customerName", cu."external_ref" AS "customerReference",
       e."value"::text AS "externalIdValue", e."status"::text AS "externalIdStatus",
       f."frozen" AS "frozen", f."reason" AS "freezeReason"
  FROM "issuance_freeze" f
  LEFT JOIN "connections" c ON c."id" = $1::uuid AND ($2::uuid IS NULL OR c."customer_id" = $2::uuid)
  LEFT JOIN "customers" cu ON cu."id" = c."customer_id"
  LEFT JOIN "external_ids" e ON e."id" = c."external_id_id"
 WHERE f."id"`

// Share-locks the connection, its external ID, its customer, the freeze row and the issuing API
// client, in that order (revocation, retirement, suspension and offboarding lock connection rows
// first; revoking a client locks only its row, and offboarding locks its clients last), and
// writes the event only if all are still usable, the client not revoked. An offboarding or retirement that also revokes a connection
// registered while it waited can deadlock with it; PostgreSQL aborts one, and this statement's
// abort sends the issuance to the audited transaction, which decides again. A statement that
// waited for one of these locks re-reads every locked row at its newest version (READ
// COMMITTED's recheck), so a change that committed first is seen, and one that comes later
// waits for this event to commit.
const COMMIT_SQL = `
WITH state AS (
  SELECT c."status"::text AS "connectionStatus", e."status"::text AS "externalIdStatus",
         cu."status"::text AS "customerStatus", f."frozen", a."revoked_at" AS "clientRevokedAt"
    FROM "connections" c, "external_ids" e, "customers" cu, "issuance_freeze" f, "api_clients" a
   WHERE c."id" = $1::uuid AND e."id" = c."external_id_id" AND cu."id" = c."customer_id" AND f."id" AND a."id" = $2::uuid
     FOR SHARE OF c, e, cu, f, a
), issued AS (
  INSERT INTO "audit_events" (${AUDIT_COLUMNS})
  SELECT ${auditPlaceholders(3)} FROM state
   WHERE "connectionStatus" = 'active' AND "externalIdStatus" = 'active' AND "customerStatus" = 'active' AND NOT "frozen"
     AND "clientRevokedAt" IS NULL
  RETURNING "id"
)
SELECT (SELECT "id"::text FROM issued) AS "eventId"`

/** Where a hand-out stood when its event was to be committed: eventId null means refused. */
export interface HandOutState {
  eventId: string | null
  connectionStatus: string | null
  externalIdStatus: string | null
  customerStatus: string | null
  frozen: boolean | null
  clientRevoked: boolean | null
}

// A hand-out of a held session (CREDENTIAL_REUSE), the only statement of its request: READ_SQL's
// tenant scope and COMMIT_SQL's checks, plus the calling client under the same share lock, since
// no AssumeRole stands between the request's authentication and this event. Returns the state it
// saw; no row state (another tenant's connection) reads as all null.
const HAND_OUT_SQL = `
WITH state AS (
  SELECT c."status"::text AS "connectionStatus", e."status"::text AS "externalIdStatus",
         cu."status"::text AS "customerStatus", f."frozen", a."revoked_at" IS NOT NULL AS "clientRevoked"
    FROM "connections" c, "external_ids" e, "customers" cu, "issuance_freeze" f, "api_clients" a
   WHERE c."id" = $1::uuid AND ($3::uuid IS NULL OR c."customer_id" = $3::uuid)
     AND e."id" = c."external_id_id" AND cu."id" = c."customer_id" AND f."id" AND a."id" = $2::uuid
     FOR SHARE OF c, e, cu, f, a
), issued AS (
  INSERT INTO "audit_events" (${AUDIT_COLUMNS})
  SELECT ${auditPlaceholders(4)} FROM state
   WHERE "connectionStatus" = 'active' AND "externalIdStatus" = 'active' AND "customerStatus" = 'active' AND NOT "frozen" AND NOT "clientRevoked"
  RETURNING "id"
)
SELECT (SELECT "id"::text FROM issued) AS "eventId",
       (SELECT "connectionStatus" FROM state) AS "connectionStatus", (SELECT "externalIdStatus" FROM state) AS "externalIdStatus",
       (SELECT "customerStatus" FROM state) AS "customerStatus", (SELECT "frozen" FROM state) AS "frozen",
       (SELECT "clientRevoked" FROM state) AS "clientRevoked"`

export function createIssuanceRepository () {
  return {
    async read (sql: SqlClient, scope: TenantScope, connectionId: string): Promise<IssuanceRead> {
      const [row] = await sql.query<ReadRow>(READ_SQL, [connectionId, scope.customerId])
      if (row === undefined) throw new Error('the issuance_freeze row is missing')
      const freeze = { frozen: row.frozen, reason: row.freezeReason }
      if (row.id === null) return { connection: null, freeze }
      return {
        connection: {
          id: row.id,
          customerId: row.customerId,
          externalIdId: row.externalIdId,
          roleArn: row.roleArn,
          status: row.status,
          customer: { status: row.customerStatus, name: row.customerName, reference: row.customerReference },
          externalId: { value: row.externalIdValue, status: row.externalIdStatus }
        },
        freeze
      }
    },

    /**
     * Commits the credentials.issued event if the connection can still issue and the API client
     * is not revoked: its id, or null when something changed (the caller then decides under a
     * transaction, and audits why). A caller without a client (the CLI) always gets null.
     */
    async commitIssued (sql: SqlClient, connectionId: string, clientId: string | null, event: PreparedAuditEvent): Promise<string | null> {
      const [row] = await sql.query<{ eventId: string | null }>(COMMIT_SQL, [connectionId, clientId, ...event.params])
      return row?.eventId ?? null
    },

    /** Commits a hand-out's credentials.issued event if the connection and the client still allow it. */
    async commitHandOut (sql: SqlClient, scope: TenantScope, connectionId: string, clientId: string, event: PreparedAuditEvent): Promise<HandOutState> {
      const [row] = await sql.query<HandOutState & Record<string, unknown>>(HAND_OUT_SQL, [connectionId, clientId, scope.customerId, ...event.params])
      return row ?? { eventId: null, connectionStatus: null, externalIdStatus: null, customerStatus: null, frozen: null, clientRevoked: null }
    }
  }
}

export type IssuanceRepository = ReturnType<typeof createIssuanceRepository>
