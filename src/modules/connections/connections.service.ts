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
import type { OnboardingService } from '../onboarding/onboarding.service.js'
import { requireAws, type AwsAccess } from './aws-access.js'
import type { ConnectionRow, ConnectionsRepository } from './connections.repository.js'
import type { ConnectionStatus, ConnectionView, ListConnectionsQuery, ProbeReport, RevokedConnectionView, VerifiedConnectionView } from './connections.schemas.js'
import type { ProbeTarget } from './probe.js'
import type { ProbeBudget, ProbeClaim } from './probe-budget.js'
import { PROBE_SOURCE_IDENTITY, probeSessionName } from './session-names.js'
import { BREAKER_CUSTOMERS, BREAKER_WINDOW_MS, createDenialCheck } from '../credentials/denial-check.js'
import { nextProbeAt } from './probe-slots.js'

export interface Deps {
  prisma: PrismaClient
  connectionsRepository: ConnectionsRepository
  externalIdsRepository: Pick<ExternalIdsRepository, 'findById' | 'findActiveSuccessor' | 'listActiveForAccount' | 'lockActiveSuccessor' | 'retire' | 'whereIssued'>
  customersRepository: Pick<CustomersRepository, 'findById' | 'lockStatus'>
  audit: AuditRecorder
  probeBudget: ProbeBudget
  aws: AwsAccess | undefined
  /** The onboarding kit a completed rotation hands back (the successor alone). */
  kits: Pick<OnboardingService, 'finalKit'>
  /** How often drift detection re-probes a connection (each connection has its own slot in it). */
  driftIntervalMs: number
}

/** What one drift probe did: skipped (revoked, customer not active, changed meanwhile) or probed. */
export type DriftProbeResult =
  | { connectionId: string, probed: false, reason: 'gone' | 'revoked' | 'customer_not_active' | 'changed_meanwhile' | 'vendor_identity' }
  | { connectionId: string, probed: true, outcome: ProbeReport['outcome'], from: ConnectionStatus, to: ConnectionStatus }

/** After an inconclusive drift probe (STS did not answer), try again this much later at most. */
const INCONCLUSIVE_RETRY_MS = 10 * 60 * 1000

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
  revokedAt: row.revokedAt?.toISOString() ?? null,
  nextProbeAt: row.status === 'revoked' ? null : row.nextProbeAt?.toISOString() ?? null
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
  const { prisma, connectionsRepository: repo, externalIdsRepository, customersRepository, audit, probeBudget, driftIntervalMs } = deps
  // Drift probes tell a customer's broken role from a refusal of deputy's own identity the way
  // issuance does (credentials/denial-check.ts), so an SCP on the vendor account fails no one.
  const denials = createDenialCheck()

  /**
   * What every probe of an account's role gets, whoever runs it (registration, verify, a
   * rotation's verify, drift): the ID to present, the account's other active one (a rotation's
   * predecessor or successor: deputy's too), and where the IDs its trust policy names were issued.
   */
  async function probeTarget (owner: { customerId: string, awsAccountId: string }, roleArn: string, externalId: string): Promise<ProbeTarget> {
    const active = await externalIdsRepository.listActiveForAccount(prisma, owner.customerId, owner.awsAccountId)
    return {
      roleArn,
      awsAccountId: owner.awsAccountId,
      externalId,
      otherActiveExternalIds: active.map((e) => e.value).filter((value) => value !== externalId),
      lookupIssued: (values) => externalIdsRepository.whereIssued(prisma, owner, values)
    }
  }

  /**
   * Stores a probe's report, the status it leads to and the next drift slot, with its audit
   * events, in one transaction; false when the connection changed status since it was read
   * (revoked meanwhile): then nothing is stored.
   */
  async function recordProbe (tx: Parameters<ConnectionsRepository['recordProbe']>[0] & Parameters<AuditRecorder['record']>[0], connection: ConnectionRow, report: ProbeReport, by: { actorClientId: string | null, request: Caller['request'] | null, phase: 'verification' | 'drift', claimedAt?: Date, refusalUnconfirmed?: boolean }): Promise<{ stored: boolean, to: ConnectionStatus }> {
    const inconclusive = report.outcome === 'error' || by.refusalUnconfirmed === true
    const to = inconclusive ? connection.status : statusAfterProbe(connection.status, report.outcome)
    const at = new Date(report.checkedAt)
    const next = inconclusive
      ? new Date(Math.min(nextProbeAt(connection.id, at, driftIntervalMs).getTime(), Date.now() + Math.min(driftIntervalMs, INCONCLUSIVE_RETRY_MS)))
      : nextProbeAt(connection.id, at, driftIntervalMs)
    if (!await repo.recordProbe(tx, connection.id, { from: connection.status, externalIdId: connection.externalIdId, to, report, at, nextProbeAt: next, claimedAt: by.claimedAt })) return { stored: false, to }
    const base = { actorClientId: by.actorClientId, request: by.request, customerId: connection.customerId, resourceType: 'connection', resourceId: connection.id }
    await audit.record(tx, { ...base, action: 'connection.probed', outcome: report.outcome === 'pass' ? 'success' : 'failure', details: { ...probeDetails(report), phase: by.phase, ...(by.refusalUnconfirmed === true ? { refusalUnconfirmed: true } : {}) } })
    if (to !== connection.status) {
      await audit.record(tx, { ...base, action: 'connection.status_changed', outcome: 'success', details: { from: connection.status, to, reason: `probe_${report.outcome}`, phase: by.phase } })
    }
    return { stored: true, to }
  }

  /**
   * Step two of a rotation: probes the role with the successor external ID. When the full probe
   * passes (allowed with the successor, refused without an ID and with a random one), the
   * connection moves to the successor and the predecessor is retired, in one transaction; null
   * (and an audited failed probe) otherwise, with nothing changed.
   */
  async function tryRotation (caller: Caller, aws: AwsAccess, connection: ConnectionRow, successor: { id: string, value: string }): Promise<ConnectionView | null> {
    // No IAM propagation wait: the role exists, and an update not yet visible is tried again at the next verify.
    const report = await aws.probe(await probeTarget(connection, connection.roleArn, successor.value), probeSessionName(randomUUID()), { propagationWindowMs: 0 })
    const base = { actorClientId: caller.actor.clientId, request: caller.request, customerId: connection.customerId, resourceType: 'connection', resourceId: connection.id }
    const details = { ...probeDetails(report), phase: 'rotation', externalIdId: successor.id }
    if (report.outcome !== 'pass') {
      await audit.record(prisma, { ...base, action: 'connection.probed', outcome: 'failure', details })
      return null
    }
    const at = new Date(report.checkedAt)
    return prisma.$transaction(async (tx) => {
      await repo.lockById(tx, connection.id)
      // Abandoned meanwhile (the successor retired): the database would refuse the move.
      if (await externalIdsRepository.lockActiveSuccessor(tx, connection.externalIdId) !== successor.id) {
        throw conflict('connection_changed', `the rotation of connection ${connection.id} was abandoned while it was being probed; nothing changed`)
      }
      const moved = await repo.moveToSuccessor(tx, connection.id, { from: connection.externalIdId, fromStatus: connection.status, to: successor.id, report, at, nextProbeAt: nextProbeAt(connection.id, at, driftIntervalMs) })
      if (!moved) throw conflict('connection_changed', `connection ${connection.id} changed while it was being probed; retry`)
      if (!await externalIdsRepository.retire(tx, { customerId: null }, connection.externalIdId, `rotated to external ID ${successor.id}`, at)) {
        throw conflict('connection_changed', `external ID ${connection.externalIdId} was retired while the rotation was being probed; retry`)
      }
      await audit.record(tx, { ...base, action: 'connection.probed', outcome: 'success', details })
      await audit.record(tx, { ...base, action: 'connection.external_id_rotated', outcome: 'success', details: { from: connection.externalIdId, to: successor.id, roleArn: connection.roleArn } })
      if (connection.status !== 'active') {
        await audit.record(tx, { ...base, action: 'connection.status_changed', outcome: 'success', details: { from: connection.status, to: 'active', reason: 'probe_pass', phase: 'rotation' } })
      }
      await audit.record(tx, { ...base, action: 'external_id.retired', resourceType: 'external_id', resourceId: connection.externalIdId, outcome: 'success', details: { awsAccountId: connection.awsAccountId, reason: 'rotated', successorId: successor.id } })
      const updated = await repo.findById(tx, { customerId: null }, connection.id)
      return toConnectionView(updated ?? connection)
    })
  }

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
      const report = await aws.probe(await probeTarget(externalId, input.roleArn, externalId.value), probeSessionName(randomUUID()))
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
        const id = randomUUID()
        const verifiedAt = new Date(report.checkedAt)
        const row = await repo.insertActive(tx, { id, customerId, externalIdId: externalId.id, awsAccountId: externalId.awsAccountId, roleArn: input.roleArn, verification: report, verifiedAt, nextProbeAt: nextProbeAt(id, verifiedAt, driftIntervalMs) })
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

    async verify (caller: Caller, id: string): Promise<VerifiedConnectionView> {
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
      const successor = await externalIdsRepository.findActiveSuccessor(prisma, externalId.id)
      if (successor !== null) {
        const rotated = await tryRotation(caller, aws, connection, successor)
        // The customer's next step: deploy the kit that names the successor alone.
        if (rotated !== null) return { ...rotated, onboarding: await deps.kits.finalKit(caller, successor.id) }
        // Not yet deployed: the predecessor keeps working, and is verified as before.
        await claimProbe(caller, aws, { customerId: connection.customerId, resource: { type: 'connection', id }, phase: 'verification' }, 0)
      }
      const report = await aws.probe(await probeTarget(connection, connection.roleArn, externalId.value), probeSessionName(randomUUID()))
      return prisma.$transaction(async (tx) => {
        const { stored } = await recordProbe(tx, connection, report, { actorClientId: caller.actor.clientId, request: caller.request, phase: 'verification' })
        if (!stored) throw conflict('connection_changed', `connection ${id} changed while it was being probed; retry`)
        const updated = await repo.findById(tx, scope, id)
        return toConnectionView(updated ?? connection)
      })
    },

    /**
     * Drift detection: re-runs the probe on one connection a scheduler claimed at `claimedAt`, as
     * deputy itself (no API client), and records the outcome like a verification, unless another
     * replica claimed it since (its lease ran out). A status change takes effect for issuance as
     * soon as it commits. Not rationed by the customer's probe budget: that budget limits what API
     * clients trigger; the scheduler has its own STS call rate. A refusal is checked like one at
     * issuance before it fails the connection: when deputy's own identity is refused (control
     * role or circuit breaker), nothing is stored and the scheduler stops its run.
     */
    async probeForDrift (id: string, claimedAt: Date): Promise<DriftProbeResult> {
      const aws = requireAws(deps.aws)
      const everyone = { customerId: null }
      const connection = await repo.findById(prisma, everyone, id)
      if (connection === null) return { connectionId: id, probed: false, reason: 'gone' }
      if (connection.status === 'revoked') return { connectionId: id, probed: false, reason: 'revoked' }
      const customer = await customersRepository.findById(prisma, everyone, connection.customerId)
      if (customer?.status !== 'active') return { connectionId: id, probed: false, reason: 'customer_not_active' }
      const externalId = await externalIdsRepository.findById(prisma, everyone, connection.externalIdId)
      if (externalId === null) return { connectionId: id, probed: false, reason: 'gone' }
      const probeId = randomUUID()
      const report = await aws.probe(await probeTarget(connection, connection.roleArn, externalId.value), probeSessionName(probeId), { propagationWindowMs: 0, retryBudgetMs: 0 })
      let refusalUnconfirmed = false
      if (report.outcome === 'not_assumable' && connection.status !== 'failed') {
        const verdict = await denials.check({
          aws,
          claimProbe: async () => true,
          otherCustomersFailedRecently: () => repo.countOtherCustomersFailedSince(prisma, connection.customerId, new Date(Date.now() - BREAKER_WINDOW_MS), BREAKER_CUSTOMERS)
        }, { roleArn: connection.roleArn, externalId: externalId.value }, `${probeId}.confirm`, aws.settings.sourceIdentity ? PROBE_SOURCE_IDENTITY : undefined)
        if (verdict.cause === 'vendor_identity') return { connectionId: id, probed: false, reason: 'vendor_identity' }
        refusalUnconfirmed = verdict.cause === 'unconfirmed'
      } else if (report.outcome !== 'error') {
        denials.identityWorks()
      }
      const { stored, to } = await prisma.$transaction((tx) => recordProbe(tx, connection, report, { actorClientId: null, request: null, phase: 'drift', claimedAt, refusalUnconfirmed }))
      if (!stored) return { connectionId: id, probed: false, reason: 'changed_meanwhile' }
      return { connectionId: id, probed: true, outcome: report.outcome, from: connection.status, to }
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
