// The AssumeRole broker: short-lived, scoped-down credentials for the vendor's services, with
// session names deputy sets, and an audit event committed before any credential leaves. If the
// event cannot be written, the credentials are dropped (fail closed).
import { randomUUID } from 'node:crypto'
import type { PrismaClient, SqlClient } from '../../db/database.js'
import { isTransactionConflict } from '../../db/errors.js'
import type { StsFailure } from '../../aws/sts-gateway.js'
import { MAX_SESSION_POLICY_CHARS } from '../../aws/sts-limits.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError, badRequest, notFound, unauthorized } from '../../lib/errors.js'
import { assertNoSecrets, AuditSecretError, type AuditEntry, type AuditRecorder } from '../audit/audit.recorder.js'
import { requireAws, type AwsAccess } from '../connections/aws-access.js'
import type { ApiClientsRepository } from '../api-clients/api-clients.repository.js'
import type { ConnectionsRepository } from '../connections/connections.repository.js'
import { issuanceSessionName, sourceIdentityFor } from '../connections/session-names.js'
import type { IssuanceFreezeRepository } from '../issuance-freeze/issuance-freeze.repository.js'
import { issuanceFrozen } from '../issuance-freeze/issuance-freeze.service.js'
import type { IssueCredentialsInput, IssuedCredentials, SessionPolicy } from './credentials.schemas.js'
import type { ProbeBudget } from '../connections/probe-budget.js'
import type { IssuanceRepository, IssuanceTarget } from './issuance.repository.js'
import { BREAKER_CUSTOMERS, BREAKER_WINDOW_MS, createDenialCheck } from './denial-check.js'
import { renderSessionTags } from './session-tags.js'
import { reuseKey, type HeldSession, type SessionOwner, type SessionReuse } from './session-reuse.js'
import { createHandOut } from './hand-out.js'
import { DEFAULT_MIN_REMAINING_SECONDS, issuedCredentials, notActive, unusableReason } from './issuance-outcome.js'

/** A session AWS issued that deputy dropped because its audit event could not be committed. */
export interface UnauditedSession {
  accessKeyId: string
  expiration: string
  roleArn: string
  sessionName: string
  stsRequestId: string | null
}

export interface Deps {
  prisma: PrismaClient
  sql: SqlClient
  issuanceRepository: IssuanceRepository
  connectionsRepository: Pick<ConnectionsRepository, 'lockForIssuance' | 'setStatus' | 'countOtherCustomersFailedSince'>
  issuanceFreezeRepository: Pick<IssuanceFreezeRepository, 'read'>
  apiClientsRepository: Pick<ApiClientsRepository, 'lockRevokedForIssuance'>
  audit: AuditRecorder
  probeBudget: ProbeBudget
  aws: AwsAccess | undefined
  /** Sessions held for reuse (CREDENTIAL_REUSE=on; app.ts starts it); undefined: every request calls STS. */
  reuse?: SessionReuse | undefined
  /** Reports a session dropped after STS issued it (no secret in it: enough to find it in CloudTrail). */
  onUnauditedSession?: (error: unknown, session: UnauditedSession) => void
}

const unavailableAudit = (): AppError => new AppError({ status: 503, code: 'audit_unavailable', title: 'Service unavailable', detail: 'the issuance could not be audited, so no credentials were returned; retry later', headers: { 'retry-after': '5' } })

/** Runs a transaction again once when PostgreSQL aborted it to break a deadlock. */
async function retryOnConflict<T> (run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (!isTransactionConflict(error)) throw error
    return run()
  }
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

function stsRefusal (failure: StsFailure, connectionFailed = false): AppError {
  const extensions = { stsErrorCode: failure.code, stsRequestId: failure.requestId }
  switch (failure.kind) {
    case 'denied':
      return new AppError({
        status: 424,
        code: 'role_access_denied',
        title: 'Failed dependency',
        detail: connectionFailed
          ? `AWS refused AssumeRole (${failure.message}), and a confirming probe was refused too; the connection is marked failed until a probe passes again`
          : `AWS refused AssumeRole (${failure.message}), but the refusal could not be confirmed (a confirming probe was allowed, STS did not answer it, or the customer's probe budget is spent); the connection stays as it is, retry`,
        extensions: { ...extensions, connectionFailed }
      })
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
  const { prisma, sql, issuanceRepository, connectionsRepository, issuanceFreezeRepository, apiClientsRepository, audit, probeBudget } = deps
  const denials = createDenialCheck()
  const handOut = createHandOut({ sql, prisma, issuanceRepository, audit })

  /**
   * Commits the credentials.issued event, failing closed. The hot path is one statement that
   * writes it only if nothing changed since the read; otherwise (or after a deadlock was broken)
   * a transaction re-reads the statuses under a share lock and audits the refusal, so a
   * revocation (of the connection or of the API client) either commits before (and the session
   * is dropped) or waits for this event.
   */
  async function commitIssuance (connection: IssuanceTarget, issued: AuditEntry & { id: string }, refusal: Record<string, unknown>): Promise<{ eventId: string } | { frozen: true } | { refused: string } | { clientRevoked: true }> {
    const prepared = audit.prepare(issued)
    const clientId = issued.actorClientId ?? null
    try {
      const eventId = await issuanceRepository.commitIssued(sql, connection.id, clientId, prepared)
      if (eventId !== null) {
        audit.recorded(prepared)
        return { eventId }
      }
    } catch (error) {
      if (!isTransactionConflict(error)) throw error
    }
    const base = { actorClientId: issued.actorClientId, request: issued.request, customerId: connection.customerId, resourceType: 'connection', resourceId: connection.id }
    return retryOnConflict(() => prisma.$transaction(async (tx) => {
      const now = await connectionsRepository.lockForIssuance(tx, connection.id)
      if (now?.issuanceFrozen === true) {
        await audit.record(tx, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: 'issuance_frozen', detail: 'frozen while the credentials were being issued', ...refusal } })
        return { frozen: true as const }
      }
      const reason = now === null ? 'connection_not_active' : unusableReason(now.connectionStatus, now.externalIdStatus, now.customerStatus, connection)
      if (reason !== null) {
        await audit.record(tx, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: 'revoked_during_issuance', detail: reason, ...refusal } })
        return { refused: reason }
      }
      // Locked after the connection and the freeze, as the single statement does.
      if (clientId !== null && await apiClientsRepository.lockRevokedForIssuance(tx, clientId) !== false) {
        await audit.record(tx, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: 'client_revoked_during_issuance', detail: `API client ${clientId} was revoked while the credentials were being issued`, ...refusal } })
        return { clientRevoked: true as const }
      }
      const event = await audit.record(tx, issued)
      return { eventId: event.id }
    }))
  }

  return {
    async issue (caller: Caller, connectionId: string, input: IssueCredentialsInput): Promise<IssuedCredentials> {
      const aws = requireAws(deps.aws)
      const scope = tenantOf(caller.actor)
      const clientRequestId = caller.request.requestId
      const durationSeconds = input.durationSeconds ?? 900
      const minRemainingSeconds = input.minRemainingSeconds ?? Math.min(DEFAULT_MIN_REMAINING_SECONDS, durationSeconds)
      const minRemainingMs = minRemainingSeconds * 1000
      const reuse = aws.settings.credentialReuse && caller.actor.clientId !== null ? deps.reuse : undefined
      // The same key before and after the read: the session policy as checkSessionPolicy packs it.
      const key = reuse === undefined ? '' : reuseKey({ connectionId, clientId: caller.actor.clientId, purpose: input.purpose, policy: input.sessionPolicy === undefined ? null : JSON.stringify(input.sessionPolicy), policyArns: input.policyArns ?? [], durationSeconds })
      const usable = (held: HeldSession | undefined): HeldSession | undefined =>
        held !== undefined && held.credentials.expiration.getTime() - Date.now() >= minRemainingMs ? held : undefined
      const requestedOf = (tags: readonly unknown[]) => ({
        purpose: input.purpose,
        durationSeconds,
        minRemainingSeconds,
        clientRequestId,
        ...(input.sessionPolicy === undefined ? {} : { sessionPolicy: input.sessionPolicy }),
        ...(input.policyArns === undefined ? {} : { policyArns: input.policyArns }),
        ...(tags.length === 0 ? {} : { sessionTags: tags })
      })
      // A held session for this very request: one statement, which re-checks everything the read
      // below would (an identical request passed every other check when the session was made).
      if (reuse?.live === true && minRemainingSeconds <= durationSeconds) {
        const held = reuse.find(key, minRemainingMs) ?? usable(await reuse.inFlight(key))
        const handed = held === undefined ? undefined : await handOut(caller, { connectionId, key, reuse, held, requested: requestedOf(held.tags) })
        if (handed !== undefined) return handed
      }
      // On the hot path: one statement reads the connection, its customer, its external ID and the freeze.
      const { connection, freeze } = await issuanceRepository.read(sql, scope, connectionId)
      if (connection === null) {
        // A refusal like any other: audited, under the caller's own customer (if bound), so a
        // tenant probing for another tenant's ids shows up in its own trail.
        await audit.record(prisma, { actorClientId: caller.actor.clientId, request: caller.request, customerId: scope.customerId, resourceType: 'connection', resourceId: connectionId, action: 'credentials.denied', outcome: 'denied', details: { reason: 'not_found', clientRequestId } })
        throw notFound('connection', connectionId, { audited: true })
      }
      const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId: connection.customerId, resourceType: 'connection', resourceId: connection.id }
      // What the caller sent is checked first: it goes into every event below, and once STS has
      // issued a session only the database itself may keep it from being recorded.
      try {
        assertNoSecrets({ purpose: input.purpose, sessionPolicy: input.sessionPolicy, policyArns: input.policyArns })
      } catch (error) {
        if (!(error instanceof AuditSecretError)) throw error
        await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: 'secret_in_request', clientRequestId } })
        throw badRequest('secret_in_request', 'the request carries what looks like a deputy API token; it would be written to the audit trail, so it was refused')
      }
      const deny = async (reason: string, error: AppError, extra: Record<string, unknown> = {}): Promise<never> => {
        await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason, purpose: input.purpose, clientRequestId, ...extra } })
        throw error
      }

      // The emergency stop, before AWS is asked (and again when the event commits, below).
      if (freeze.frozen) return deny('issuance_frozen', issuanceFrozen(freeze.reason))
      const unusable = unusableReason(connection.status, connection.externalId.status, connection.customer.status, connection)
      if (unusable !== null) return deny('connection_not_active', notActive(unusable, connection.status === 'revoked' || connection.externalId.status !== 'active'), { status: connection.status })
      if (durationSeconds > aws.settings.credentialsMaxDurationSeconds) {
        return deny('duration_exceeds_cap', badRequest('duration_exceeds_cap', `durationSeconds ${durationSeconds} exceeds this deputy's cap of ${aws.settings.credentialsMaxDurationSeconds}`))
      }
      let policy: string | undefined
      try {
        policy = input.sessionPolicy === undefined ? undefined : checkSessionPolicy(input.sessionPolicy)
      } catch (error) {
        return deny((error as AppError).code, error as AppError)
      }
      if (minRemainingSeconds > durationSeconds) {
        return deny('invalid_min_remaining', badRequest('invalid_min_remaining', `minRemainingSeconds ${minRemainingSeconds} exceeds durationSeconds ${durationSeconds}`))
      }
      const rendered = renderSessionTags(aws.settings.sessionTags, {
        'customer.id': connection.customerId,
        'customer.reference': connection.customer.reference ?? '',
        'customer.name': connection.customer.name,
        'client.id': caller.actor.clientId ?? '',
        'client.name': caller.actor.clientName,
        'connection.id': connection.id,
        purpose: input.purpose
      })
      if (!rendered.ok) {
        // The value is not repeated: it is what the caller sent or what deputy holds, and the key says which.
        return deny('session_tag_invalid', badRequest('session_tag_invalid', `the session tag "${rendered.key}" (from {${rendered.placeholders.join('}, {')}}) would not be a valid tag value: it ${rendered.problem}; nothing was issued`), { tagKey: rendered.key })
      }
      const tags = rendered.tags
      const sourceIdentity = aws.settings.sourceIdentity ? sourceIdentityFor(caller.actor.clientName) : undefined
      const fresh = async (): Promise<{ session: HeldSession, result: IssuedCredentials }> => {
        // The id of the credentials.issued event, chosen now so the session is named after it.
        const issuanceId = randomUUID()
        const sessionName = issuanceSessionName(caller.actor.clientName, connection.customerId, issuanceId)
        const requested = {
          assumedRoleArn: null as string | null,
          sessionName,
          sourceIdentity: sourceIdentity ?? null,
          purpose: input.purpose,
          durationSeconds,
          clientRequestId,
          ...(input.sessionPolicy === undefined ? {} : { sessionPolicy: input.sessionPolicy }),
          ...(input.policyArns === undefined ? {} : { policyArns: input.policyArns }),
          ...(tags.length === 0 ? {} : { sessionTags: tags })
        }
        // Everything the credentials.issued event will carry is checked before AWS is asked (the
        // client name reaches it through the session name).
        try {
          assertNoSecrets(requested)
        } catch (error) {
          if (!(error instanceof AuditSecretError)) throw error
          await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details: { reason: 'secret_in_request' } })
          throw badRequest('secret_in_request', 'the API client\'s name looks like a deputy API token and would be written to the audit trail; rename the client')
        }
        const outcome = await aws.sts.assumeRole({
          roleArn: connection.roleArn,
          sessionName,
          externalId: connection.externalId.value,
          durationSeconds,
          policy,
          policyArns: input.policyArns,
          sourceIdentity,
          tags
        }, { retryBudgetMs: aws.settings.stsRetryBudgetMs })

        if (!outcome.ok) {
          const { failure } = outcome
          const details = { reason: failure.kind === 'denied' ? 'role_access_denied' : `sts_${failure.kind}`, purpose: input.purpose, sessionName, clientRequestId, stsErrorCode: failure.code, stsRequestId: failure.requestId, attempts: outcome.attempts }
          if (failure.kind !== 'denied') {
            await audit.record(prisma, { ...base, action: 'credentials.denied', outcome: 'denied', details })
            throw stsRefusal(failure)
          }
          const verdict = await denials.check({
            aws,
            claimProbe: async () => (await probeBudget.claim(caller, { customerId: connection.customerId, resource: { type: 'connection', id: connection.id }, phase: 'issuance_check', budgetPerHour: aws.settings.probeBudgetPerCustomerPerHour, cooldownMs: 0 })).ok,
            otherCustomersFailedRecently: () => connectionsRepository.countOtherCustomersFailedSince(prisma, connection.customerId, new Date(Date.now() - BREAKER_WINDOW_MS), BREAKER_CUSTOMERS)
          }, { roleArn: connection.roleArn, externalId: connection.externalId.value, tags }, issuanceId, sourceIdentity)
          if (verdict.cause === 'vendor_identity') {
            await audit.record(prisma, { ...base, id: issuanceId, action: 'credentials.denied', outcome: 'denied', details: { ...details, reason: 'vendor_identity_denied', control: verdict.control } })
            throw new AppError({ status: 503, code: 'aws_credentials_invalid', title: 'Service unavailable', detail: 'AWS refuses deputy\'s own identity (its control role is refused too, or connections of several customers failed at once: a missing sts:AssumeRole permission or a service control policy on the vendor account); the connection was left as it is and an operator must fix deputy\'s AWS identity', extensions: { stsErrorCode: failure.code, stsRequestId: failure.requestId }, headers: { 'retry-after': '60' } })
          }
          await prisma.$transaction(async (tx) => {
            if (verdict.cause === 'role' && await connectionsRepository.setStatus(tx, connection.id, 'active', 'failed', new Date(), connection.externalIdId)) {
              await audit.record(tx, { ...base, action: 'connection.status_changed', outcome: 'success', details: { from: 'active', to: 'failed', reason: 'access_denied_at_issuance', confirmed: true, control: verdict.control, stsRequestId: failure.requestId } })
            }
            // The confirming probe's session is named after this event's id: CloudTrail leads here.
            await audit.record(tx, { ...base, id: issuanceId, action: 'credentials.denied', outcome: 'denied', details: { ...details, confirmed: verdict.cause === 'role', ...(verdict.cause === 'role' ? { control: verdict.control } : { unconfirmed: verdict.why }) } })
          })
          throw stsRefusal(failure, verdict.cause === 'role')
        }

        denials.identityWorks()
        const { credentials, assumedRoleArn } = outcome.value
        const session = { accessKeyId: credentials.accessKeyId, expiration: credentials.expiration.toISOString(), roleArn: connection.roleArn, sessionName, stsRequestId: outcome.requestId }
        const issued = {
          ...base,
          id: issuanceId,
          action: 'credentials.issued',
          outcome: 'success' as const,
          // The fresh secrets must not appear anywhere in the event.
          secrets: [credentials.secretAccessKey, credentials.sessionToken],
          details: { ...requested, assumedRoleArn, accessKeyId: session.accessKeyId, expiration: session.expiration, stsRequestId: outcome.requestId }
        }
        const refusal = { purpose: input.purpose, clientRequestId, sessionName, accessKeyId: session.accessKeyId, expiration: session.expiration, stsRequestId: outcome.requestId }
        const committed = await commitIssuance(connection, issued, refusal).catch((error: unknown) => {
          deps.onUnauditedSession?.(error, session)
          throw unavailableAudit()
        })
        if ('frozen' in committed) {
          const { reason } = await issuanceFreezeRepository.read(prisma)
          throw issuanceFrozen(`${reason ?? 'no reason given'}; frozen while the credentials were being issued: the session AWS issued was dropped and expires by itself at ${session.expiration}`)
        }
        if ('clientRevoked' in committed) {
          throw unauthorized(`this API token was revoked while the credentials were being issued; the session AWS issued was dropped and expires by itself at ${session.expiration}`)
        }
        if ('refused' in committed) {
          throw notActive(`${committed.refused} (changed while the credentials were being issued; the session AWS issued was dropped and expires by itself at ${session.expiration})`, true)
        }
        const held: HeldSession = { credentials, assumedRoleArn, sessionName, sourceIdentity: outcome.value.sourceIdentity ?? sourceIdentity ?? null, auditEventId: committed.eventId, customerId: connection.customerId, tags }
        return { session: held, result: issuedCredentials(held, committed.eventId, null) }
      }

      if (reuse === undefined) return (await fresh()).result

      // Concurrent identical requests all miss above; past the read, all but the first find its
      // issuance in flight. A hand-out refused here (something changed since the read) leaves the
      // decision to a fresh issuance, whose commit re-checks and audits as always.
      const held = reuse.find(key, minRemainingMs) ?? usable(await reuse.inFlight(key))
      const handed = held === undefined ? undefined : await handOut(caller, { connectionId: connection.id, key, reuse, held, requested: requestedOf(held.tags) })
      if (handed !== undefined) return handed
      const owner: SessionOwner = { connectionId: connection.id, customerId: connection.customerId, externalIdId: connection.externalIdId, clientId: caller.actor.clientId ?? '' }
      return reuse.lead(key, owner, fresh)
    }
  }
}

export type CredentialsService = ReturnType<typeof createCredentialsService>
