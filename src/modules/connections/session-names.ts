// Session names and source identities deputy sets on every AssumeRole, never the caller: they
// are what the customer's CloudTrail shows, and they lead back to deputy's audit trail.
import { toStsName } from '../../aws/sts-limits.js'

/** "<client name>.<customer id prefix>.<request id>", cut to AWS's 64 characters. */
export function issuanceSessionName (clientName: string, customerId: string, requestId: string): string {
  const client = toStsName(clientName, 24).replace(/^[.-]+/, '') || 'client'
  return toStsName(`${client}.${customerId.slice(0, 8)}.${requestId}`, 64)
}

export const probeSessionName = (requestId: string): string => toStsName(`deputy-probe.${requestId}`, 64)

/** The source identity sticks to the session, through any role chaining the vendor does. */
export function sourceIdentityFor (clientName: string): string {
  return toStsName(`deputy.${clientName}`, 64)
}

export const PROBE_SOURCE_IDENTITY = 'deputy.probe'
