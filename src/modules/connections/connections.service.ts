// Role connections: a customer role recorded only once the confused-deputy probe passes, and
// re-verified on demand. Only `active` connections issue credentials.
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { PrismaClient } from '../../db/database.js'
import { parseRoleArn } from '../../aws/arn.js'
import { denySessionsIssuedBefore, type RevocationImpact } from '../../iam/deny-policy.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError, conflict, notFound } from '../../lib/errors.js'
import { createdCursorKey, decodeCreatedCursor, toPage, type Page } from '../../lib/pagination.js'
import type { AuditRecorder } from '../audit/audit.recorder.js'
import type { CustomersRepository } from '../customers/customers.repository.js'
import type { ExternalIdsRepository } from '../external-ids/external-ids.repository.js'
import { requireAws, type AwsAccess } from './aws-access.js'
import type { ConnectionRow, ConnectionsRepository } from './connections.repository.js'
import type { ConnectionStatus, ConnectionView, ListConnectionsQuery, ProbeReport, RevokedConnectionView } from './connections.schemas.js'
import type { ProbeBudget, ProbeClaim } from './probe-budget.js'
import { probeSessionName } from './session-names.js'

export interface Deps {
  prisma: PrismaClient
  connectionsRepository: ConnectionsRepository
  externalIdsRepository: Pick<ExternalIdsRepository, 'findById'>
  customersRepository: Pick<CustomersRepository, 'findById' | 'lockStatus'>
  audit: AuditRecorder
  probeBudget: ProbeBudget
  aws: AwsAccess | undefined
}

export const toConnectionView = (row: ConnectionRow): ConnectionView => ({
  id: row.id,
  customerId: row.customerId,
  externalIdId: row.externalIdId,
  awsAccountId: row.awsAccountId,
  roleArn: row.roleArn,
  status: row.status,
  verification: row.verification as unknown as ProbeReport,
  verifiedAt: row.verifiedAt.toISOString(),
  createdAt: row.createdAt.toISOString(),
  revokedAt: row.revokedAt?.toISOString() ?? null
})

/** The audit record of a probe: outcome, findings and each call, never credentials. */
const probeDetails = (report: ProbeReport): Record<string, unknown> => ({
  outcome: report.outcome,
  roleArn: report.roleArn,
  durationMs: report.durationMs,
  findings: report.findings.map((f) => f.code),
  calls: report.calls.map((c) => ({ step: c.step, outcome: c.outcome, errorCode: c.errorCode, stsRequestId: c.stsRequestId, attempts: c.attempts }))
})

/** The connection status a probe outcome leads to; an inconclusive probe changes nothing. */
export function statusAfterProbe (current: ConnectionStatus, outcome: ProbeReport['outcome']): ConnectionStatus {
  if (outcome === 'pass') return 'active'
  if (outcome === 'insecure') return 'insecure'
  if (outcome === 'not_assumable') return 'failed'
  return current
}

function refusal (report: ProbeReport): AppError {
  const extensions = { probe: report }
  if (report.outcome === 'insecure') {
    return new AppError({ status: 422, code: 'role_trust_policy_insecure', title: 'Role trust policy is insecure', detail: `the role can be assumed without its external ID, so deputy will not use it: ${report.findings.map((f) => f.message).join(' ')}`, extensions })
  }
  if (report.outcome === 'error') {
    return new AppError({ status: 503, code: 'sts_unavailable', title: 'Service unavailable', detail: 'AWS STS did not answer the probe; nothing was recorded. Retry later.', extensions, headers: { 'retry-after': '10' } })
  }
  return new AppError({ status: 422, code: 'role_not_assumable', title: 'Role cannot be assumed', detail: report.findings.map((f) => f.message).join(' '), extensions })
}

/** 409 customer_not_active: nothing is registered or probed for a suspended or offboarded customer. */
export const customerNotActive = (customerId: string, status: string, what: string): AppError =>
  conflict('customer_not_active', `customer ${customerId} is ${status}; ${what} only for active customers`)

/** What a revocation leaves behind, given when it happened and how long it took. */
export async function revocationImpact (repo: Pick<ConnectionsRepository, 'latestOutstandingExpiration'>, db: Parameters<ConnectionsRepository['latestOutstandingExpiration']>[0], connectionIds: string[], revokedAt: Date, started: number): Promise<RevocationImpact> {
  const expiresAt = await repo.latestOutstandingExpiration(db, connectionIds, revokedAt)
  return {
    outstandingCredentialsExpireAt: expiresAt?.toISOString() ?? null,
    customerDenyPolicy: denySessionsIssuedBefore(revokedAt),
    tookMs: Math.round(performance.now() - started)
  }
}

export function createConnectionsService (deps: Deps) {
  const { prisma, connectionsRepository: repo, externalIdsRepository, customersRepository, audit, probeBudget } = deps

  /** Spends one probe of the customer's budget (and the connection's cooldown), or throws 429. */
  async function claimProbe (caller: Caller, aws: AwsAccess, claim: Pick<ProbeClaim, 'customerId' | 'resource' | 'phase' | 'lastProbedAt'>, cooldownMs: number): Promise<void> {
    const result = await probeBudget.claim(caller, { ...claim, budgetPerHour: aws.settings.probeBudgetPerCustomerPerHour, cooldownMs })
    if (result.ok) return
    const detail = result.reason === 'probe_cooldown'
      ? `${claim.resource.type} ${claim.resource.id} was probed less than ${Math.round(cooldownMs / 1000)} s ago; probes of one connection are at least that far apart`
      : `customer ${claim.customerId} has used its ${aws.settings.probeBudgetPerCustomerPerHour} probes of the last hour; each probe calls AWS STS in the customer's account`
    throw new AppError({ status: 429, code: result.reason, title: 'Too many requests', detail, headers: { 'retry-after': String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) } })
  }

  return {
    async register (caller: Caller, customerId: string, input: { externalIdId: string, roleArn: string }): Promise<ConnectionView> {
      const aws = requireAws(deps.aws)
      const scope = tenantOf(caller.actor)
      const customer = await customersRepository.findById(prisma, scope, customerId)
      if (customer === null) throw notFound('customer', customerId)
      if (customer.status !== 'active') throw customerNotActive(customerId, customer.status, 'connections are registered')
      const externalId = await externalIdsRepository.findById(prisma, scope, input.externalIdId)
      if (externalId === null || externalId.customerId !== customerId) throw notFound('external ID', input.externalIdId)
      if (externalId.status !== 'active') throw conflict('external_id_not_active', `external ID ${externalId.id} is retired; mint a new one for account ${externalId.awsAccountId}`)
      const role = parseRoleArn(input.roleArn)
      if (role === undefined || role.accountId !== externalId.awsAccountId) {
        throw new AppError({ status: 422, code: 'account_mismatch', title: 'Unprocessable content', detail: `the role is in account ${role?.accountId ?? '(unknown)'}, but external ID ${externalId.id} belongs to account ${externalId.awsAccountId}` })
      }
      const live = await repo.findLiveForExternalId(prisma, scope, externalId.id)
      if (live !== null) throw conflict('connection_exists', `external ID ${externalId.id} already has connection ${live.id}; revoke it first`, { existingConnectionId: live.id })
      await claimProbe(caller, aws, { customerId, resource: { type: 'external_id', id: externalId.id }, phase: 'registration' }, 0)

      // The probe talks to AWS: outside any transaction, before anything is stored.
      const report = await aws.probe({ roleArn: input.roleArn, awsAccountId: externalId.awsAccountId, externalId: externalId.value }, probeSessionName(randomUUID()))
      const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId, resourceType: 'connection' }
      if (report.outcome !== 'pass') {
        // The role ARN is not stored anywhere but in this audit event.
        await audit.record(prisma, { ...base, action: 'connection.probed', outcome: 'failure', resourceType: 'external_id', resourceId: externalId.id, details: { ...probeDetails(report), phase: 'registration' } })
        throw refusal(report)
      }
      const created = await prisma.$transaction(async (tx) => {
        // Under a share lock: a suspension or offboarding either committed first or waits for this.
        const status = await customersRepository.lockStatus(tx, customerId)
        if (status !== 'active') return { customerStatus: status ?? 'gone' }
        const row = await repo.insertActive(tx, { customerId, externalIdId: externalId.id, awsAccountId: externalId.awsAccountId, roleArn: input.roleArn, verification: report, verifiedAt: new Date(report.checkedAt) })
        if (row === 'external_id_not_active') return row
        if (row === null) return null
        await audit.record(tx, { ...base, action: 'connection.probed', outcome: 'success', resourceId: row.id, details: { ...probeDetails(report), phase: 'registration' } })
        await audit.record(tx, { ...base, action: 'connection.created', outcome: 'success', resourceId: row.id, details: { roleArn: row.roleArn, awsAccountId: row.awsAccountId, externalIdId: row.externalIdId } })
        return row
      })
      if (created === 'external_id_not_active') {
        // Retired while the probe ran: the database refused the insert (see the hardening migration).
        await audit.record(prisma, { ...base, action: 'connection.probed', outcome: 'failure', resourceType: 'external_id', resourceId: externalId.id, details: { ...probeDetails(report), phase: 'registration', refused: 'external_id_not_active' } })
        throw conflict('external_id_not_active', `external ID ${externalId.id} was retired while the role was being probed; nothing was recorded`)
      }
      if (created === null) {
        const winner = await repo.findLiveForExternalId(prisma, scope, externalId.id)
        throw conflict('connection_exists', `external ID ${externalId.id} already has connection ${winner?.id ?? '(just created)'}`, { existingConnectionId: winner?.id ?? null })
      }
      if ('customerStatus' in created) {
        await audit.record(prisma, { ...base, action: 'connection.probed', outcome: 'failure', resourceType: 'external_id', resourceId: externalId.id, details: { ...probeDetails(report), phase: 'registration', refused: 'customer_not_active' } })
        throw customerNotActive(customerId, created.customerStatus, 'connections are registered (it changed while the role was being probed; nothing was recorded)')
      }
      return toConnectionView(created)
    },

    async verify (caller: Caller, id: string): Promise<ConnectionView> {
      const aws = requireAws(deps.aws)
      const scope = tenantOf(caller.actor)
      const connection = await repo.findById(prisma, scope, id)
      if (connection === null) throw notFound('connection', id)
      if (connection.status === 'revoked') throw conflict('connection_revoked', `connection ${id} is revoked; register the role again`)
      const customer = await customersRepository.findById(prisma, scope, connection.customerId)
      if (customer !== null && customer.status !== 'active') throw customerNotActive(connection.customerId, customer.status, 'connections are probed')
      const externalId = await externalIdsRepository.findById(prisma, scope, connection.externalIdId)
      if (externalId === null) throw notFound('external ID', connection.externalIdId)
      await claimProbe(caller, aws, { customerId: connection.customerId, resource: { type: 'connection', id }, phase: 'verification', lastProbedAt: connection.verifiedAt }, aws.settings.probeCooldownMs)
      const report = await aws.probe({ roleArn: connection.roleArn, awsAccountId: connection.awsAccountId, externalId: externalId.value }, probeSessionName(randomUUID()))
      const next = statusAfterProbe(connection.status, report.outcome)
      return prisma.$transaction(async (tx) => {
        if (!await repo.recordProbe(tx, id, connection.status, next, report, new Date(report.checkedAt))) {
          throw conflict('connection_changed', `connection ${id} changed while it was being probed; retry`)
        }
        const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId: connection.customerId, resourceType: 'connection', resourceId: id }
        await audit.record(tx, { ...base, action: 'connection.probed', outcome: report.outcome === 'pass' ? 'success' : 'failure', details: { ...probeDetails(report), phase: 'verification' } })
        if (next !== connection.status) {
          await audit.record(tx, { ...base, action: 'connection.status_changed', outcome: 'success', details: { from: connection.status, to: next, reason: `probe_${report.outcome}` } })
        }
        const updated = await repo.findById(tx, scope, id)
        return toConnectionView(updated ?? connection)
      })
    },

    /**
     * Revokes a connection for good. The row lock comes first: an issuance holding its share
     * lock commits its event before, and one that has not taken it yet sees the revocation.
     * Sessions already issued stay valid until they expire: the impact says until when, and
     * gives the customer the policy that ends them.
     */
    async revoke (caller: Caller, id: string, reason: string): Promise<RevokedConnectionView> {
      const started = performance.now()
      const scope = tenantOf(caller.actor)
      return prisma.$transaction(async (tx) => {
        const connection = await repo.findById(tx, scope, id)
        if (connection === null) throw notFound('connection', id)
        await repo.lockById(tx, id)
        // After the lock: an issuance that committed before it was issued before revokedAt.
        const at = new Date()
        const revoked = await repo.revoke(tx, id, reason, at)
        if (revoked === null) throw conflict('connection_revoked', `connection ${id} is already revoked; revocation is final`)
        const impact = await revocationImpact(repo, tx, [id], at, started)
        await audit.record(tx, {
          action: 'connection.revoked',
          outcome: 'success',
          actorClientId: caller.actor.clientId,
          request: caller.request,
          customerId: connection.customerId,
          resourceType: 'connection',
          resourceId: id,
          details: { reason, roleArn: connection.roleArn, from: connection.status, outstandingCredentialsExpireAt: impact.outstandingCredentialsExpireAt, tookMs: impact.tookMs }
        })
        return { ...toConnectionView(revoked), impact }
      })
    },

    async get (caller: Caller, id: string): Promise<ConnectionView> {
      const row = await repo.findById(prisma, tenantOf(caller.actor), id)
      if (row === null) throw notFound('connection', id)
      return toConnectionView(row)
    },

    async list (caller: Caller, customerId: string, query: ListConnectionsQuery): Promise<Page<ConnectionView>> {
      const scope = tenantOf(caller.actor)
      if (await customersRepository.findById(prisma, scope, customerId) === null) throw notFound('customer', customerId)
      const limit = query.limit ?? 50
      const after = query.cursor === undefined ? undefined : decodeCreatedCursor(query.cursor)
      const rows = await repo.list(prisma, scope, customerId, { awsAccountId: query.awsAccountId, status: query.status }, { limit, after })
      return toPage(rows, limit, toConnectionView, createdCursorKey)
    }
  }
}

export type ConnectionsService = ReturnType<typeof createConnectionsService>
