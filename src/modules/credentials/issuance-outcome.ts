// What issuance decides from a connection's state, and the response it gives for a session
// (fresh or handed out again), shared by the service and the hand-out.
import { AppError } from '../../lib/errors.js'
import type { IssuedCredentials } from './credentials.schemas.js'
import type { HeldSession } from './session-reuse.js'

/** What a hand-out keeps when none is asked for: the SDKs refresh credentials about 5 minutes before they expire. */
export const DEFAULT_MIN_REMAINING_SECONDS = 300

/** The response for a session: a fresh one, or a hand-out (reusedAuditEventId set). */
export function issuedCredentials (held: HeldSession, auditEventId: string, reusedAuditEventId: string | null): IssuedCredentials {
  const { credentials } = held
  const leftSeconds = (credentials.expiration.getTime() - Date.now()) / 1000
  return {
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      expiration: credentials.expiration.toISOString()
    },
    // A fresh session reports its duration as before; a hand-out never overstates what is left.
    ttlSeconds: Math.max(0, reusedAuditEventId === null ? Math.round(leftSeconds) : Math.floor(leftSeconds)),
    assumedRoleArn: held.assumedRoleArn,
    sessionName: held.sessionName,
    sourceIdentity: held.sourceIdentity,
    auditEventId,
    reusedAuditEventId
  }
}

/** Why a connection cannot issue now, or null when it can. */
export function unusableReason (connectionStatus: string, externalIdStatus: string, customerStatus: string, ids: { id: string, customerId: string, externalIdId: string }): string | null {
  if (connectionStatus !== 'active') return `connection ${ids.id} is ${connectionStatus}`
  if (externalIdStatus !== 'active') return `external ID ${ids.externalIdId} is ${externalIdStatus}`
  if (customerStatus !== 'active') return `customer ${ids.customerId} is ${customerStatus}`
  return null
}

export function notActive (what: string, final: boolean): AppError {
  return new AppError({ status: 409, code: 'connection_not_active', title: 'Conflict', detail: `${what}; only active connections of active customers issue credentials${final ? '' : ' (POST /v1/connections/{id}/verify re-runs the probe)'}` })
}
