// What deputy's AssumeRole requests look like to a trust policy, as the analysis's input. Fixed by
// deputy: the principal (its ARN, account and type) and the actions. Variable: sts:ExternalId (any
// valid value, or none: what a confused deputy could be made to send), and the session name and
// source identity, which differ between probes and issuances (client names go into them), so
// every valid value is considered; the probe's own are pinned so that a witness uses them when
// they suffice. Every other key is left out, so a condition on it is opaque. Pure: no I/O.
import { parsePrincipalArn } from '../../aws/arn.js'
import type { AnalysisInput } from './analyse.js'
import { EXTERNAL_ID_KEY } from './analyse.js'

// The characters AWS accepts in each AssumeRole parameter (sts-limits.ts), as explicit lists.
const WORD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_'
export const NAME_CHARSET = `${WORD}+=,.@-`
export const EXTERNAL_ID_CHARSET = `${NAME_CHARSET}:/`

export interface VendorRequest {
  vendorPrincipalArn: string
  /** The external IDs that are deputy's for this role: the connection's, and during a rotation the other one. */
  ours: string[]
  /** The probe's session name and source identity (undefined when deputy sets none). */
  sessionName: string
  sourceIdentity: string | undefined
}

export function vendorRequestInput (request: VendorRequest): AnalysisInput {
  const principal = parsePrincipalArn(request.vendorPrincipalArn)
  if (principal === undefined) throw new Error(`not a principal ARN: ${request.vendorPrincipalArn}`)
  const isRole = principal.kind === 'role'
  return {
    // A role's session: the evaluator matches the role's ARN (and aws:PrincipalArn is the role).
    principal: {
      arn: request.vendorPrincipalArn,
      roleArn: isRole ? request.vendorPrincipalArn : undefined,
      account: principal.accountId,
      sessionArnPrefix: isRole ? `arn:${principal.partition}:sts::${principal.accountId}:assumed-role/${principal.name}/` : undefined
    },
    constants: {
      'aws:PrincipalArn': request.vendorPrincipalArn,
      'aws:PrincipalAccount': principal.accountId,
      'aws:PrincipalType': isRole ? 'AssumedRole' : 'User',
      ...(request.sourceIdentity === undefined ? { 'sts:SourceIdentity': undefined } : {})
    },
    variables: [
      { name: EXTERNAL_ID_KEY, charset: EXTERNAL_ID_CHARSET, minLength: 2, maxLength: 1224, mayBeAbsent: true, pinned: request.ours },
      { name: 'sts:RoleSessionName', charset: NAME_CHARSET, minLength: 2, maxLength: 64, mayBeAbsent: false, pinned: [request.sessionName] },
      ...(request.sourceIdentity === undefined ? [] : [{ name: 'sts:SourceIdentity', charset: NAME_CHARSET, minLength: 2, maxLength: 64, mayBeAbsent: false, pinned: [request.sourceIdentity] }])
    ],
    ours: request.ours,
    actions: ['sts:AssumeRole'],
    actionsWhenPresent: { 'sts:SourceIdentity': 'sts:SetSourceIdentity' }
  }
}
