// Writes audit events. Services call record() with the same transaction client that makes the
// change, so a change and its audit event commit together or not at all.
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
}

// Defence in depth: a detail that looks like a credential is a bug in the caller, and the
// audit trail is append-only, so refuse it before it is written for good.
const SECRET_KEY = /secret|token|password|session_?token/i
const SECRET_VALUE = /\bdpt_[A-Za-z0-9_-]{20,}/

export function assertNoSecrets (value: unknown, path = 'details'): void {
  if (typeof value === 'string') {
    if (SECRET_VALUE.test(value)) throw new Error(`audit ${path} looks like an API token; refusing to record it`)
    return
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertNoSecrets(item, `${path}[${i}]`))
    return
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_KEY.test(key)) throw new Error(`audit ${path}.${key} names a secret; refusing to record it`)
      assertNoSecrets(item, `${path}.${key}`)
    }
  }
}

export function createAuditRecorder () {
  return {
    record (db: Db, entry: AuditEntry) {
      const details = entry.details ?? {}
      assertNoSecrets(details)
      return db.auditEvent.create({
        data: {
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
    }
  }
}

export type AuditRecorder = ReturnType<typeof createAuditRecorder>
