// The policy a customer attaches to deputy's role after a revocation: STS sessions cannot be
// recalled, but IAM evaluates `aws:TokenIssueTime` on every call, so denying everything to
// sessions issued before the revocation ends them at once. Pure: no I/O.

export interface DenyPolicy {
  Version: '2012-10-17'
  Statement: Array<{
    Effect: 'Deny'
    Action: '*'
    Resource: '*'
    Condition: { DateLessThan: { 'aws:TokenIssueTime': string } }
  }>
}

/** Denies every action to sessions of the role issued before `revokedAt`. */
export function denySessionsIssuedBefore (revokedAt: Date): DenyPolicy {
  return {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': revokedAt.toISOString() } }
    }]
  }
}

/** What a revocation leaves behind: the honest exposure window, and how to close it. */
export interface RevocationImpact {
  /** The latest expiration among sessions deputy issued that are still valid; null if none. */
  outstandingCredentialsExpireAt: string | null
  customerDenyPolicy: DenyPolicy
  tookMs: number
}
