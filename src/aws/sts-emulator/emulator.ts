// The STS emulator's state and behaviour: principals with access keys, customer roles with trust
// policies, sessions it has issued, injected faults and a record of every call. The HTTP
// server in server.ts puts the STS query protocol in front of it; tests and deputy's sandbox
// mode drive it directly or through its admin routes.
import { randomBytes, randomUUID } from 'node:crypto'
import { parsePrincipalArn, parseRoleArn } from '../arn.js'
import { charCount, EXTERNAL_ID, MAX_DURATION_SECONDS, MAX_POLICY_ARNS, MAX_SESSION_POLICY_CHARS, MAX_SESSION_TAGS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MIN_DURATION_SECONDS, ROLE_CHAINING_MAX_SECONDS, ROLE_SESSION_NAME, SOURCE_IDENTITY, TAG_CHARACTERS } from '../sts-limits.js'
import { identityDecision } from '../../iam/identity-policy.js'
import { evaluateTrustPolicy, MalformedPolicyError } from '../../iam/trust-policy-evaluator.js'

export interface StsErrorShape {
  status: number
  type: 'Sender' | 'Receiver'
  code: string
  message: string
}

export class StsError extends Error {
  constructor (readonly shape: StsErrorShape) {
    super(shape.message)
  }
}

const sender = (status: number, code: string, message: string): StsError => new StsError({ status, type: 'Sender', code, message })

export interface Principal {
  accessKeyId: string
  secretAccessKey: string
  /** IAM user ARN, or the assumed-role session ARN for session credentials. */
  arn: string
  accountId: string
  userId: string
  sessionToken?: string
  /** For sessions: the role they are a session of. */
  roleArn?: string
  expiresAt?: Date
  sourceIdentity?: string
  /** For sessions: the inline session policy AssumeRole was given, which narrows what it may do. */
  sessionPolicy?: string
  /** For sessions: the session tags AssumeRole was given (what aws:PrincipalTag/... would read). */
  tags?: Array<{ key: string, value: string }>
}

export interface Role {
  arn: string
  accountId: string
  name: string
  roleId: string
  trustPolicy: string
  /** The role's identity (inline) policies: what its sessions may do (only IAM GetRole is emulated). */
  permissions: string[]
  createdAt: Date
  maxSessionDuration: number
  /** IAM propagation: until this instant the role refuses every AssumeRole. */
  assumableAfter: Date
}

// access_denied: a spurious AccessDenied, as IAM's eventual consistency can give for a moment.
// hang: the connection is accepted and the request read, but no answer ever comes (until the
// caller gives up or the emulator closes).
export const FAULT_KINDS = ['throttle', 'server_error', 'unavailable', 'latency', 'drop', 'access_denied', 'hang'] as const
export type FaultKind = typeof FAULT_KINDS[number]

export interface Fault {
  kind: FaultKind
  /** Restrict to one action; all STS actions otherwise (an IAM GetRole only when named). */
  action?: 'AssumeRole' | 'GetCallerIdentity' | 'GetRole' | undefined
  /** How many matching calls it affects; unlimited within `durationMs` when only that is given. */
  count?: number | undefined
  /** How long after it is injected it applies (a storm); without it, until `count` is spent. */
  durationMs?: number | undefined
  /** The share of matching calls it affects (0-1, default 1); a call it spares spends no use. */
  probability?: number | undefined
  latencyMs?: number | undefined
}

interface ActiveFault extends Fault {
  remaining: number
  /** Epoch ms after which it no longer applies. */
  until: number
}

/** Why a fault cannot be injected, or undefined when it can (the admin route answers 400 with it). */
export function faultProblem (fault: unknown): string | undefined {
  if (typeof fault !== 'object' || fault === null) return 'a fault is a JSON object'
  const f = fault as Record<string, unknown>
  const positive = (key: string): boolean => f[key] === undefined || (typeof f[key] === 'number' && Number.isFinite(f[key]) && f[key] > 0)
  if (!(FAULT_KINDS as readonly unknown[]).includes(f.kind)) return `kind must be one of ${FAULT_KINDS.join(', ')}`
  if (f.action !== undefined && f.action !== 'AssumeRole' && f.action !== 'GetCallerIdentity' && f.action !== 'GetRole') return 'action must be AssumeRole, GetCallerIdentity or GetRole'
  if (!positive('count') || !positive('durationMs') || !positive('latencyMs')) return 'count, durationMs and latencyMs must be positive numbers'
  if (f.count === undefined && f.durationMs === undefined) return 'give count, durationMs or both'
  if (f.probability !== undefined && !(typeof f.probability === 'number' && f.probability > 0 && f.probability <= 1)) return 'probability must be in (0, 1]'
  return undefined
}

export interface RecordedCall {
  at: string
  requestId: string
  action: string
  accessKeyId: string | null
  callerArn: string | null
  params: Record<string, string>
  outcome: 'ok' | 'error' | 'dropped' | 'hung'
  errorCode?: string
}

const alnum = (length: number): string => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  return Array.from(randomBytes(length), (b) => alphabet[b % 32]).join('')
}

function validation (field: string, value: string, constraint: string): StsError {
  return sender(400, 'ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`)
}

/** Tags.member.N.Key / .Value, validated as STS does (Tag's length and pattern, at most 50, no key twice ignoring case). */
function sessionTagsOf (params: Record<string, string>): Array<{ key: string, value: string }> {
  const tags: Array<{ key: string, value: string }> = []
  for (let n = 1; params[`Tags.member.${n}.Key`] !== undefined; n++) {
    const key = params[`Tags.member.${n}.Key`] ?? ''
    const value = params[`Tags.member.${n}.Value`] ?? ''
    if (charCount(key) < 1 || charCount(key) > MAX_TAG_KEY_CHARS || !TAG_CHARACTERS.test(key)) throw validation(`tags.${n}.member.key`, key, 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+ and have length between 1 and 128')
    if (charCount(value) > MAX_TAG_VALUE_CHARS || !TAG_CHARACTERS.test(value)) throw validation(`tags.${n}.member.value`, value, 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* and have length less than or equal to 256')
    tags.push({ key, value })
  }
  if (tags.length > MAX_SESSION_TAGS) throw validation('tags', `${tags.length} items`, `Member must have length less than or equal to ${MAX_SESSION_TAGS}`)
  const keys = new Set(tags.map((tag) => tag.key.toLowerCase()))
  if (keys.size !== tags.length) throw sender(400, 'InvalidParameterValue', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.')
  return tags
}

export function createStsEmulator (options: { now?: () => Date } = {}) {
  const now = options.now ?? (() => new Date())
  const principals = new Map<string, Principal>()
  const roles = new Map<string, Role>()
  let faults: ActiveFault[] = []
  // Principals whose own permissions refuse sts:AssumeRole (a missing identity-policy grant or a
  // service control policy on the caller's account): every AssumeRole they make is denied.
  const identityDenials = new Set<string>()
  const calls: RecordedCall[] = []

  function createUser (arn: string): { accessKeyId: string, secretAccessKey: string } {
    const parsed = parsePrincipalArn(arn)
    if (parsed === undefined || parsed.kind !== 'user') throw new Error(`not an IAM user ARN: ${arn}`)
    const principal: Principal = { accessKeyId: `AKIA${alnum(16)}`, secretAccessKey: randomBytes(30).toString('base64'), arn, accountId: parsed.accountId, userId: `AIDA${alnum(17)}` }
    principals.set(principal.accessKeyId, principal)
    return { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey }
  }

  function putRole (input: { arn: string, trustPolicy: string | object, permissions?: Array<string | object>, maxSessionDuration?: number, propagationDelayMs?: number }): Role {
    const parsed = parseRoleArn(input.arn)
    if (parsed === undefined) throw new Error(`not an IAM role ARN: ${input.arn}`)
    const existing = roles.get(input.arn)
    const role: Role = {
      arn: input.arn,
      accountId: parsed.accountId,
      name: parsed.name,
      roleId: existing?.roleId ?? `AROA${alnum(17)}`,
      trustPolicy: typeof input.trustPolicy === 'string' ? input.trustPolicy : JSON.stringify(input.trustPolicy),
      permissions: (input.permissions ?? []).map((p) => typeof p === 'string' ? p : JSON.stringify(p)),
      createdAt: existing?.createdAt ?? now(),
      maxSessionDuration: input.maxSessionDuration ?? 3600,
      assumableAfter: new Date(now().getTime() + (input.propagationDelayMs ?? 0))
    }
    roles.set(role.arn, role)
    return role
  }

  function deleteRole (arn: string): boolean {
    return roles.delete(arn)
  }

  function injectFault (fault: Fault): void {
    const problem = faultProblem(fault)
    if (problem !== undefined) throw new Error(`invalid fault: ${problem}`)
    faults.push({ ...fault, remaining: fault.count ?? Number.POSITIVE_INFINITY, until: fault.durationMs === undefined ? Number.POSITIVE_INFINITY : now().getTime() + fault.durationMs })
  }

  /** Takes the first fault that applies to this call, spending one of its uses. */
  function takeFault (action: string): Fault | undefined {
    const at = now().getTime()
    faults = faults.filter((f) => f.remaining > 0 && at <= f.until)
    const fault = faults.find((f) => (f.action === undefined ? action !== 'GetRole' : f.action === action) && (f.probability === undefined || Math.random() < f.probability))
    if (fault === undefined) return undefined
    fault.remaining -= 1
    return fault
  }

  function principalFor (accessKeyId: string): Principal | undefined {
    return principals.get(accessKeyId)
  }

  function assumeRole (caller: Principal, params: Record<string, string>) {
    const roleArn = params.RoleArn ?? ''
    const sessionName = params.RoleSessionName ?? ''
    if (roleArn.length < 20 || roleArn.length > 2048) throw validation('roleArn', roleArn, 'Member must have length greater than or equal to 20')
    if (!ROLE_SESSION_NAME.test(sessionName)) throw validation('roleSessionName', sessionName, 'Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64')
    const externalId = params.ExternalId
    if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) throw validation('externalId', externalId, 'Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]* and have length between 2 and 1224')
    const sourceIdentity = params.SourceIdentity
    if (sourceIdentity !== undefined && !SOURCE_IDENTITY.test(sourceIdentity)) throw validation('sourceIdentity', sourceIdentity, 'Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64')
    const duration = params.DurationSeconds === undefined ? 3600 : Number(params.DurationSeconds)
    if (!Number.isInteger(duration) || duration < MIN_DURATION_SECONDS || duration > MAX_DURATION_SECONDS) {
      throw validation('durationSeconds', String(params.DurationSeconds), `Member must have value between ${MIN_DURATION_SECONDS} and ${MAX_DURATION_SECONDS}`)
    }
    const policy = params.Policy
    const tags = sessionTagsOf(params)
    // AWS compresses the session policy and the tags into one packed form (its limit is not
    // documented as a number); modelled as the minified policy plus each tag's key and value
    // over the 2048-character allowance.
    const tagChars = tags.reduce((n, tag) => n + charCount(tag.key) + charCount(tag.value), 0)
    if (policy !== undefined) {
      if (policy.length > MAX_SESSION_POLICY_CHARS) throw validation('policy', '(policy)', `Member must have length less than or equal to ${MAX_SESSION_POLICY_CHARS}`)
      try {
        const parsed = JSON.parse(policy) as { Statement?: unknown }
        if (parsed.Statement === undefined) throw new Error('no Statement')
      } catch {
        throw sender(400, 'MalformedPolicyDocument', 'The policy is not in the valid JSON format.')
      }
    }
    const packed = (policy === undefined ? 0 : JSON.stringify(JSON.parse(policy)).length) + tagChars
    if (packed > MAX_SESSION_POLICY_CHARS) throw sender(400, 'PackedPolicyTooLarge', `Packed policy consumes ${Math.ceil(packed / MAX_SESSION_POLICY_CHARS * 100)}% of allotted space, please use smaller policy.`)
    const policyArns = Object.keys(params).filter((k) => /^PolicyArns\.member\.\d+\.arn$/.test(k))
    if (policyArns.length > MAX_POLICY_ARNS) throw validation('policyArns', `${policyArns.length} items`, `Member must have length less than or equal to ${MAX_POLICY_ARNS}`)

    const role = roles.get(roleArn)
    const denied = (): StsError => sender(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`)
    // IAM answers a missing role, a role still propagating and a refusing trust policy alike.
    if (identityDenials.has(caller.roleArn ?? caller.arn)) {
      throw sender(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn} with an explicit deny in a service control policy`)
    }
    if (role === undefined || role.assumableAfter > now()) throw denied()
    if (caller.roleArn !== undefined && duration > ROLE_CHAINING_MAX_SECONDS) {
      throw validation('durationSeconds', String(duration), 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.')
    }
    if (duration > role.maxSessionDuration) {
      throw sender(400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.')
    }
    const actions = ['sts:AssumeRole']
    if (sourceIdentity !== undefined) actions.push('sts:SetSourceIdentity')
    if (tags.length > 0) actions.push('sts:TagSession')
    let decision
    try {
      decision = evaluateTrustPolicy(role.trustPolicy, actions, {
        principalArn: caller.arn,
        principalRoleArn: caller.roleArn,
        principalAccount: caller.accountId,
        keys: {
          'sts:ExternalId': externalId,
          'sts:SourceIdentity': sourceIdentity,
          'sts:RoleSessionName': sessionName,
          'aws:PrincipalArn': caller.roleArn ?? caller.arn,
          'aws:PrincipalAccount': caller.accountId,
          'aws:PrincipalType': caller.roleArn === undefined ? 'User' : 'AssumedRole',
          ...Object.fromEntries(tags.map((tag) => [`aws:RequestTag/${tag.key}`, tag.value]))
        }
      })
    } catch (error) {
      if (error instanceof MalformedPolicyError) throw denied()
      throw error
    }
    if (!decision.allowed) {
      if (decision.action !== undefined && decision.action !== 'sts:AssumeRole') {
        throw sender(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: ${decision.action} on resource: ${roleArn}`)
      }
      throw denied()
    }
    const expiresAt = new Date(now().getTime() + duration * 1000)
    const sessionArn = `arn:${roleArn.split(':')[1] ?? 'aws'}:sts::${role.accountId}:assumed-role/${role.name}/${sessionName}`
    const session: Principal = {
      accessKeyId: `ASIA${alnum(16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(96).toString('base64'),
      arn: sessionArn,
      accountId: role.accountId,
      userId: `${role.roleId}:${sessionName}`,
      roleArn: role.arn,
      expiresAt,
      ...(sourceIdentity === undefined ? {} : { sourceIdentity }),
      ...(policy === undefined ? {} : { sessionPolicy: policy }),
      ...(tags.length === 0 ? {} : { tags })
    }
    principals.set(session.accessKeyId, session)
    return {
      ...(sourceIdentity === undefined ? {} : { SourceIdentity: sourceIdentity }),
      AssumedRoleUser: { AssumedRoleId: session.userId, Arn: sessionArn },
      Credentials: {
        AccessKeyId: session.accessKeyId,
        SecretAccessKey: session.secretAccessKey,
        SessionToken: session.sessionToken,
        Expiration: expiresAt.toISOString()
      },
      ...(policy === undefined && tags.length === 0 ? {} : { PackedPolicySize: Math.ceil(packed / MAX_SESSION_POLICY_CHARS * 100) })
    }
  }

  /**
   * IAM GetRole for the caller's own account, authorised as IAM does it for a role session: the
   * role's identity policies must allow iam:GetRole on the role's ARN and the session policy (if
   * any) must too, with no explicit Deny in either. Checked before the role is looked up, as IAM
   * answers AccessDenied rather than revealing whether a role exists. IAM users have no policies
   * here, so they are refused.
   */
  function iamGetRole (caller: Principal, params: Record<string, string>) {
    const name = params.RoleName ?? ''
    if (!/^[\w+=,.@-]{1,64}$/.test(name)) throw validation('roleName', name, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+')
    const role = [...roles.values()].find((r) => r.accountId === caller.accountId && r.name === name)
    const partition = caller.arn.split(':')[1] ?? 'aws'
    const resource = role?.arn ?? `arn:${partition}:iam::${caller.accountId}:role/${name}`
    const own = caller.roleArn === undefined ? undefined : roles.get(caller.roleArn)
    const keys = { 'aws:PrincipalArn': caller.roleArn ?? caller.arn, 'aws:PrincipalAccount': caller.accountId }
    const identity = identityDecision(own?.permissions ?? [], 'iam:GetRole', resource, keys)
    const session = caller.sessionPolicy === undefined ? 'allow' : identityDecision([caller.sessionPolicy], 'iam:GetRole', resource, keys)
    if (identity !== 'allow' || session !== 'allow') {
      const why = identity === 'deny' || session === 'deny'
        ? 'with an explicit deny in an identity-based policy'
        : identity !== 'allow' ? 'because no identity-based policy allows the iam:GetRole action' : 'because no session policy allows the iam:GetRole action'
      throw sender(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: iam:GetRole on resource: role ${name} ${why}`)
    }
    if (role === undefined) throw sender(404, 'NoSuchEntity', `The role with name ${name} cannot be found.`)
    return {
      Role: {
        Path: parseRoleArn(role.arn)?.path ?? '/',
        RoleName: role.name,
        RoleId: role.roleId,
        Arn: role.arn,
        CreateDate: role.createdAt.toISOString(),
        // IAM returns the trust policy URL-encoded (RFC 3986) inside the XML.
        AssumeRolePolicyDocument: encodeURIComponent(role.trustPolicy),
        MaxSessionDuration: role.maxSessionDuration
      }
    }
  }

  function getCallerIdentity (caller: Principal) {
    return { Arn: caller.arn, UserId: caller.userId, Account: caller.accountId }
  }

  function record (call: Omit<RecordedCall, 'at'>): void {
    calls.push({ at: now().toISOString(), ...call })
    if (calls.length > 10_000) calls.shift()
  }

  return {
    now,
    createUser,
    putRole,
    deleteRole,
    getRole: (arn: string) => roles.get(arn),
    /** Refuses (or, with false, allows again) every AssumeRole made by this principal. */
    denyAssumeRoleFor: (principalArn: string, deny = true) => { if (deny) identityDenials.add(principalArn); else identityDenials.delete(principalArn) },
    injectFault,
    clearFaults: () => { faults = [] },
    takeFault,
    principalFor,
    assumeRole,
    iamGetRole,
    getCallerIdentity,
    record,
    calls: (): RecordedCall[] => [...calls],
    clearCalls: () => { calls.length = 0 },
    newRequestId: () => randomUUID()
  }
}

export type StsEmulator = ReturnType<typeof createStsEmulator>
