// A hand-out: a session deputy already holds (session-reuse.ts), given to an identical request
// without calling STS, in one statement: its own credentials.issued event (reused: true, naming
// the event of the AssumeRole that made the session), committed only if the caller's tenant
// scope, the freeze, the connection, its external ID, the customer and the calling client all
// still allow it, checked under share locks. A revoked client is refused and audited here; any
// other refusal drops the held session and leaves the request to the ordinary path, which reads,
// decides and audits as for any issuance. Nothing leaves unless the event committed.
import { randomUUID } from 'node:crypto'
import type { PrismaClient, SqlClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError } from '../../lib/errors.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { IssuedCredentials } from './credentials.schemas.js'
import { issuedCredentials } from './issuance-outcome.js'
import type { IssuanceRepository } from './issuance.repository.js'
import type { HeldSession, SessionReuse } from './session-reuse.js'

export interface HandOutDeps {
  sql: SqlClient
  prisma: PrismaClient
  issuanceRepository: Pick<IssuanceRepository, 'commitHandOut'>
  audit: AuditRecorder
}

export interface HandOutRequest {
  connectionId: string
  key: string
  reuse: SessionReuse
  held: HeldSession
  /** What the request asked for, as a fresh issuance records it. */
  requested: Record<string, unknown> & { purpose: string, clientRequestId: string }
}

const unavailableAudit = (): AppError => new AppError({ status: 503, code: 'audit_unavailable', title: 'Service unavailable', detail: 'the hand-out could not be audited, so no credentials were returned; retry later', headers: { 'retry-after': '5' } })

export function createHandOut (deps: HandOutDeps) {
  const { sql, prisma, issuanceRepository, audit } = deps

  /** The credentials, or undefined when the ordinary path must decide. */
  return async function handOut (caller: Caller, request: HandOutRequest): Promise<IssuedCredentials | undefined> {
    const { held, requested } = request
    const { credentials } = held
    const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId: held.customerId, resourceType: 'connection', resourceId: request.connectionId }
    const event = audit.prepare({
      ...base,
      id: randomUUID(),
      action: 'credentials.issued',
      outcome: 'success',
      secrets: [credentials.secretAccessKey, credentials.sessionToken],
      details: {
        ...requested,
        ...(held.tags.length === 0 ? {} : { sessionTags: held.tags }),
        reused: true,
        reusedAuditEventId: held.auditEventId,
        assumedRoleArn: held.assumedRoleArn,
        sessionName: held.sessionName,
        sourceIdentity: held.sourceIdentity,
        accessKeyId: credentials.accessKeyId,
        expiration: credentials.expiration.toISOString(),
        stsRequestId: null
      }
    })
    const state = await issuanceRepository.commitHandOut(sql, tenantOf(caller.actor), request.connectionId, caller.actor.clientId ?? '', event).catch(() => { throw unavailableAudit() })
    if (state.eventId !== null) {
      audit.recorded(event)
      return issuedCredentials(held, state.eventId, held.auditEventId)
    }
    // Whatever refused it also evicts it by notification; this replica does not wait for that.
    request.reuse.forget(request.key)
    if (state.clientRevoked !== true) return undefined
    await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: 'client_revoked', purpose: requested.purpose, clientRequestId: requested.clientRequestId, reusedAuditEventId: held.auditEventId } })
    throw new AppError({ status: 401, code: 'unauthorized', title: 'Unauthorized', detail: 'this API token has been revoked' })
  }
}
