// Writes audit events. Services call record() with the same transaction client that makes the
// change, so a change and its audit event commit together or not at all. The trail is also the
// outbox of outbound webhooks: the relay (src/modules/webhooks/relay.ts) reads the notified events
// from it once sealed, so nothing but the event is written for them here.
import { randomUUID } from 'node:crypto'
import type { PrismaClient } from '../../db/database.js'
import type { Prisma } from '../../generated/prisma/client.js'
import type { RequestMeta } from '../../lib/caller.js'

type Db = Pick<PrismaClient, 'auditEvent'>

export type AuditOutcome = 'success' | 'failure' | 'denied'

export interface AuditEntry {
  action: string
  outcome: AuditOutcome
  actorClientId: string | null
  request: RequestMeta | null
  customerId?: string | null
  resourceType?: string
  resourceId?: string
  details?: Record<string, unknown>
  /** Event id chosen by the caller (e.g. to name the AWS session after it); default: random. */
  id?: string
  /** Exact secret values that must not appear anywhere in the event (see assertNoSecrets). */
  secrets?: readonly string[]
}

/**
 * Defence in depth against deputy leaking its own secrets into the append-only trail. It guards
 * by value (anything shaped like a deputy API token, and the exact secrets the caller names,
 * such as the session credentials an issuance just received) and by the names of the fields
 * deputy itself writes (the top level of `details`). Nested documents a customer supplied, such
 * as a session policy, are data: a condition key like "aws:TokenIssueTime" is recorded as given.
 */
const SECRET_FIELD = /secret|token|password/i
/** Anything shaped like a deputy API token (dpt_ + base64url). */
export const API_TOKEN = /\bdpt_[A-Za-z0-9_-]{20,}/

export class AuditSecretError extends Error {
  override name = 'AuditSecretError'
}

function assertNoSecretValues (value: unknown, path: string, secrets: readonly string[]): void {
  if (typeof value === 'string') {
    if (API_TOKEN.test(value)) throw new AuditSecretError(`audit ${path} looks like an API token; refusing to record it`)
    if (secrets.some((secret) => value.includes(secret))) throw new AuditSecretError(`audit ${path} contains a credential; refusing to record it`)
    return
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => { assertNoSecretValues(item, `${path}[${i}]`, secrets) })
    return
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (API_TOKEN.test(key) || secrets.some((secret) => key.includes(secret))) throw new AuditSecretError(`audit ${path} has a key that contains a credential; refusing to record it`)
      assertNoSecretValues(item, `${path}.${key}`, secrets)
    }
  }
}

/**
 * Throws AuditSecretError when `details` would put a secret in the trail. `secrets` are exact
 * values that must not appear anywhere (only values of 16+ characters are considered, so a
 * short string cannot make every event fail).
 */
export function assertNoSecrets (details: Record<string, unknown>, secrets: readonly string[] = []): void {
  for (const key of Object.keys(details)) {
    if (SECRET_FIELD.test(key)) throw new AuditSecretError(`audit details.${key} names a secret; refusing to record it`)
  }
  assertNoSecretValues(details, 'details', secrets.filter((secret) => secret.length >= 16))
}

/**
 * An audit event ready for a single-statement write (the hot paths, see src/db/sql-client.ts):
 * checked like record() does, its id chosen, its columns as parameters in AUDIT_COLUMNS order.
 */
export interface PreparedAuditEvent {
  id: string
  entry: AuditEntry
  params: [id: string, occurredAt: Date, action: string, outcome: AuditOutcome, actorClientId: string | null, customerId: string | null, resourceType: string | null, resourceId: string | null, requestId: string | null, sourceIp: string | null, userAgent: string | null, details: string]
}

// occurred_at is set here, as Prisma does for @default(now()): millisecond instants, the precision
// of the keyset cursors and of every timestamp deputy returns.
export const AUDIT_COLUMNS = '"id", "occurred_at", "action", "outcome", "actor_client_id", "customer_id", "resource_type", "resource_id", "request_id", "source_ip", "user_agent", "details"'

/** The typed placeholders of AUDIT_COLUMNS, numbered from $first. */
export function auditPlaceholders (first: number): string {
  const casts = ['::uuid', '::timestamptz', '', '::"audit_outcome"', '::uuid', '::uuid', '', '', '', '', '', '::jsonb']
  return casts.map((cast, i) => `$${first + i}${cast}`).join(', ')
}

export function createAuditRecorder (onRecorded?: (entry: AuditEntry) => void) {
  return {
    /** Checks an entry and lays out its columns; call recorded() once the statement committed. */
    prepare (entry: AuditEntry): PreparedAuditEvent {
      const details = entry.details ?? {}
      assertNoSecrets(details, entry.secrets)
      const id = entry.id ?? randomUUID()
      return {
        id,
        entry,
        params: [id, new Date(), entry.action, entry.outcome, entry.actorClientId, entry.customerId ?? null, entry.resourceType ?? null, entry.resourceId ?? null, entry.request?.requestId ?? null, entry.request?.sourceIp ?? null, entry.request?.userAgent ?? null, JSON.stringify(details)]
      }
    },
    /** Reports an event written by a single statement (what record() does after its insert). */
    recorded (event: PreparedAuditEvent): void {
      onRecorded?.(event.entry)
    },

    async record (db: Db, entry: AuditEntry) {
      const details = entry.details ?? {}
      assertNoSecrets(details, entry.secrets)
      const event = await db.auditEvent.create({
        data: {
          ...(entry.id === undefined ? {} : { id: entry.id }),
          action: entry.action,
          outcome: entry.outcome,
          actorClientId: entry.actorClientId,
          customerId: entry.customerId ?? null,
          resourceType: entry.resourceType ?? null,
          resourceId: entry.resourceId ?? null,
          requestId: entry.request?.requestId ?? null,
          sourceIp: entry.request?.sourceIp ?? null,
          userAgent: entry.request?.userAgent ?? null,
          details: details as Prisma.InputJsonObject
        }
      })
      onRecorded?.(entry)
      return event
    }
  }
}

export type AuditRecorder = ReturnType<typeof createAuditRecorder>
