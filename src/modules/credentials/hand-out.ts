// A hand-out: a session deputy already holds (session-reuse.ts), given to an identical request
// without calling STS. It is decided like an issuance: the same read and checks before, and its
// own credentials.issued event (reused: true, naming the event of the AssumeRole that made the
// session) committed in one statement that re-checks the freeze, the connection, its external
// ID, the customer and the calling client under share locks. Refused there, the session is
// dropped from the cache and the refusal is audited; nothing leaves.
import { randomUUID } from 'node:crypto'
import type { PrismaClient, SqlClient } from '../../db/database.js'
import type { Caller } from '../../lib/caller.js'
import { AppError } from '../../lib/errors.js'
import type { AuditEntry, AuditRecorder } from '../audit/audit.recorder.js'
import type { IssuanceFreezeRepository } from '../issuance-freeze/issuance-freeze.repository.js'
import { issuanceFrozen } from '../issuance-freeze/issuance-freeze.service.js'
import type { IssuedCredentials } from './credentials.schemas.js'
import { issuedCredentials, notActive, unusableReason } from './issuance-outcome.js'
import type { HandOutState, IssuanceRepository, IssuanceTarget } from './issuance.repository.js'
import type { HeldSession, SessionReuse } from './session-reuse.js'

export interface HandOutDeps {
  sql: SqlClient
  prisma: PrismaClient
  issuanceRepository: Pick<IssuanceRepository, 'commitHandOut'>
  issuanceFreezeRepository: Pick<IssuanceFreezeRepository, 'read'>
  audit: AuditRecorder
}

export interface HandOutRequest {
  connection: IssuanceTarget
  base: Pick<AuditEntry, 'actorClientId' | 'request' | 'customerId' | 'resourceType' | 'resourceId'>
  key: string
  reuse: SessionReuse
  held: HeldSession
  /** What the request asked for, as a fresh issuance records it. */
  requested: Record<string, unknown>
}

const unavailableAudit = (): AppError => new AppError({ status: 503, code: 'audit_unavailable', title: 'Service unavailable', detail: 'the hand-out could not be audited, so no credentials were returned; retry later', headers: { 'retry-after': '5' } })

function refusalOf (state: HandOutState, connection: IssuanceTarget): { reason: string, detail: string } {
  if (state.frozen === true) return { reason: 'issuance_frozen', detail: 'frozen' }
  if (state.clientRevoked !== false) return { reason: 'client_revoked', detail: 'the API client was revoked' }
  const detail = state.connectionStatus === null ? 'connection_not_active' : unusableReason(state.connectionStatus, state.externalIdStatus ?? '', state.customerStatus ?? '', connection) ?? 'changed'
  return { reason: 'revoked_during_issuance', detail }
}

export function createHandOut (deps: HandOutDeps) {
  const { sql, prisma, issuanceRepository, issuanceFreezeRepository, audit } = deps

  return async function handOut (caller: Caller, request: HandOutRequest): Promise<IssuedCredentials> {
    const { connection, base, held, requested } = request
    const { credentials } = held
    const event = audit.prepare({
      ...base,
      id: randomUUID(),
      action: 'credentials.issued',
      outcome: 'success',
      secrets: [credentials.secretAccessKey, credentials.sessionToken],
      details: {
        ...requested,
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
    const state = await issuanceRepository.commitHandOut(sql, connection.id, caller.actor.clientId ?? '', event).catch(() => { throw unavailableAudit() })
    if (state.eventId !== null) {
      audit.recorded(event)
      return issuedCredentials(held, state.eventId, held.auditEventId)
    }
    // Whatever refused it also evicts it by notification; this replica does not wait for that.
    request.reuse.forget(request.key)
    const refusal = refusalOf(state, connection)
    await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: refusal.reason, detail: refusal.detail, purpose: requested.purpose, clientRequestId: requested.clientRequestId, reusedAuditEventId: held.auditEventId } })
    if (refusal.reason === 'issuance_frozen') {
      const { reason } = await issuanceFreezeRepository.read(prisma)
      throw issuanceFrozen(reason)
    }
    if (refusal.reason === 'client_revoked') throw new AppError({ status: 401, code: 'unauthorized', title: 'Unauthorized', detail: 'this API token has been revoked' })
    throw notActive(refusal.detail, true)
  }
}
