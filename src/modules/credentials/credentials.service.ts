// The AssumeRole broker: short-lived, scoped-down credentials for the vendor's services, with
// session names deputy sets, and an audit event committed before any credential leaves. If the
// event cannot be written, the credentials are dropped (fail closed).
import type { PrismaClient } from '../../db/database.js'
import type { StsFailure } from '../../aws/sts-gateway.js'
import { MAX_SESSION_POLICY_CHARS } from '../../aws/sts-limits.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError, badRequest, notFound } from '../../lib/errors.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import { requireAws, type AwsAccess } from '../connections/aws-access.js'
import type { ConnectionsRepository } from '../connections/connections.repository.js'
import { issuanceSessionName, sourceIdentityFor } from '../connections/session-names.js'
import type { IssueCredentialsInput, IssuedCredentials, SessionPolicy } from './credentials.schemas.js'

export interface Deps {
  prisma: PrismaClient
  connectionsRepository: Pick<ConnectionsRepository, 'findForIssuance' | 'setStatus'>
  audit: AuditRecorder
  aws: AwsAccess | undefined
  /** Reports a failure to write the issuance audit event (the credentials are then dropped). */
  onAuditFailure?: (error: unknown) => void
}

function checkSessionPolicy (policy: SessionPolicy): string {
  for (const [i, statement] of policy.Statement.entries()) {
    if ((statement.Action === undefined) === (statement.NotAction === undefined)) throw badRequest('invalid_session_policy', `Statement[${i}] needs exactly one of Action or NotAction`)
    if ((statement.Resource === undefined) === (statement.NotResource === undefined)) throw badRequest('invalid_session_policy', `Statement[${i}] needs exactly one of Resource or NotResource`)
  }
  const packed = JSON.stringify(policy)
  if (packed.length > MAX_SESSION_POLICY_CHARS) {
    throw badRequest('session_policy_too_large', `the session policy is ${packed.length} characters minified; AWS allows ${MAX_SESSION_POLICY_CHARS}`)
  }
  return packed
}

function stsRefusal (failure: StsFailure): AppError {
  const extensions = { stsErrorCode: failure.code, stsRequestId: failure.requestId }
  switch (failure.kind) {
    case 'denied':
      return new AppError({ status: 424, code: 'role_access_denied', title: 'Failed dependency', detail: `AWS refused AssumeRole (${failure.message}); the connection is marked failed until a probe passes again`, extensions })
    case 'throttled':
    case 'unavailable':
      return new AppError({ status: 503, code: 'sts_unavailable', title: 'Service unavailable', detail: `AWS STS did not answer in time (${failure.code}); retry later`, extensions, headers: { 'retry-after': '5' } })
    case 'vendor_credentials':
      return new AppError({ status: 503, code: 'aws_credentials_invalid', title: 'Service unavailable', detail: `deputy's own AWS credentials were refused (${failure.code}); an operator must fix them`, extensions, headers: { 'retry-after': '60' } })
    case 'rejected':
      return new AppError({ status: 422, code: 'sts_rejected', title: 'Unprocessable content', detail: `AWS STS rejected the request: ${failure.code}: ${failure.message}`, extensions })
  }
}

export function createCredentialsService (deps: Deps) {
  const { prisma, connectionsRepository, audit } = deps

  return {
    async issue (caller: Caller, connectionId: string, input: IssueCredentialsInput): Promise<IssuedCredentials> {
      const aws = requireAws(deps.aws)
      const scope = tenantOf(caller.actor)
      // On the hot path: one query for the connection, its customer's status and its external ID.
      const connection = await connectionsRepository.findForIssuance(prisma, scope, connectionId)
      if (connection === null) throw notFound('connection', connectionId)
      const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId: connection.customerId, resourceType: 'connection', resourceId: connection.id }
      const deny = async (reason: string, error: AppError, extra: Record<string, unknown> = {}): Promise<never> => {
        await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason, purpose: input.purpose, ...extra } })
        throw error
      }

      if (connection.status !== 'active' || connection.customer.status !== 'active') {
        const what = connection.status !== 'active' ? `connection ${connection.id} is ${connection.status}` : `customer ${connection.customerId} is ${connection.customer.status}`
        return deny('connection_not_active', new AppError({ status: 409, code: 'connection_not_active', title: 'Conflict', detail: `${what}; only active connections of active customers issue credentials${connection.status === 'revoked' ? '' : ' (POST /v1/connections/{id}/verify re-runs the probe)'}` }), { status: connection.status })
      }
      const durationSeconds = input.durationSeconds ?? 900
      if (durationSeconds > aws.settings.credentialsMaxDurationSeconds) {
        return deny('duration_exceeds_cap', badRequest('duration_exceeds_cap', `durationSeconds ${durationSeconds} exceeds this deputy's cap of ${aws.settings.credentialsMaxDurationSeconds}`))
      }
      let policy: string | undefined
      try {
        policy = input.sessionPolicy === undefined ? undefined : checkSessionPolicy(input.sessionPolicy)
      } catch (error) {
        return deny((error as AppError).code, error as AppError)
      }
      const sessionName = issuanceSessionName(caller.actor.clientName, connection.customerId, caller.request.requestId)
      const sourceIdentity = aws.settings.sourceIdentity ? sourceIdentityFor(caller.actor.clientName) : undefined
      const outcome = await aws.sts.assumeRole({
        roleArn: connection.roleArn,
        sessionName,
        externalId: connection.externalId.value,
        durationSeconds,
        policy,
        policyArns: input.policyArns,
        sourceIdentity
      }, { retryBudgetMs: aws.settings.stsRetryBudgetMs })

      if (!outcome.ok) {
        const { failure } = outcome
        const details = { reason: failure.kind === 'denied' ? 'role_access_denied' : `sts_${failure.kind}`, purpose: input.purpose, sessionName, stsErrorCode: failure.code, stsRequestId: failure.requestId, attempts: outcome.attempts }
        await prisma.$transaction(async (tx) => {
          if (failure.kind === 'denied' && await connectionsRepository.setStatus(tx, connection.id, 'active', 'failed', new Date())) {
            await audit.record(tx, { ...base, action: 'connection.status_changed', outcome: 'success', details: { from: 'active', to: 'failed', reason: 'access_denied_at_issuance', stsRequestId: failure.requestId } })
          }
          await audit.record(tx, { ...base, action: 'credentials.denied', outcome: 'denied', details })
        })
        throw stsRefusal(failure)
      }

      const { credentials, assumedRoleArn } = outcome.value
      let auditEventId: string
      try {
        // Fail closed: the event is committed before the credentials can leave deputy.
        const event = await audit.record(prisma, {
          ...base,
          action: 'credentials.issued',
          outcome: 'success',
          details: {
            accessKeyId: credentials.accessKeyId,
            expiration: credentials.expiration.toISOString(),
            assumedRoleArn,
            sessionName,
            sourceIdentity: sourceIdentity ?? null,
            purpose: input.purpose,
            durationSeconds,
            stsRequestId: outcome.requestId,
            ...(input.sessionPolicy === undefined ? {} : { sessionPolicy: input.sessionPolicy }),
            ...(input.policyArns === undefined ? {} : { policyArns: input.policyArns })
          }
        })
        auditEventId = event.id
      } catch (error) {
        deps.onAuditFailure?.(error)
        throw new AppError({ status: 503, code: 'audit_unavailable', title: 'Service unavailable', detail: 'the issuance could not be audited, so no credentials were returned; retry later', headers: { 'retry-after': '5' } })
      }
      return {
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
          expiration: credentials.expiration.toISOString()
        },
        ttlSeconds: Math.max(0, Math.round((credentials.expiration.getTime() - Date.now()) / 1000)),
        assumedRoleArn,
        sessionName,
        sourceIdentity: outcome.value.sourceIdentity ?? sourceIdentity ?? null,
        auditEventId
      }
    }
  }
}

export type CredentialsService = ReturnType<typeof createCredentialsService>
