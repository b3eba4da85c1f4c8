// Session names and source identities deputy sets on every AssumeRole, never the caller: they
// are what the customer's CloudTrail shows, and they lead back to deputy's audit trail.
import { toStsName } from '../../aws/sts-limits.js'

const MAX_SESSION_NAME = 64

/**
 * "<client name>.<customer id prefix>.<issuance id>". The issuance id is deputy's own (the id of
 * the credentials.issued audit event), never the caller's request id, so a caller can neither
 * choose nor repeat a session name. When the name is too long the client name is shortened,
 * never the id.
 */
export function issuanceSessionName (clientName: string, customerId: string, issuanceId: string): string {
  const suffix = `.${customerId.slice(0, 8)}.${toStsName(issuanceId)}`
  const room = Math.max(2, MAX_SESSION_NAME - suffix.length)
  const client = toStsName(clientName, room).replace(/^[.-]+/, '') || 'client'
  return `${client}${suffix}`.slice(0, MAX_SESSION_NAME)
}

/** "deputy-probe.<probe id>", the id deputy generated for this probe. */
export const probeSessionName = (probeId: string): string => toStsName(`deputy-probe.${probeId}`, MAX_SESSION_NAME)

/** The source identity sticks to the session, through any role chaining the vendor does. */
export function sourceIdentityFor (clientName: string): string {
  return toStsName(`deputy.${clientName}`, MAX_SESSION_NAME)
}

export const PROBE_SOURCE_IDENTITY = 'deputy.probe'
