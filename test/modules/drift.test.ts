// Drift detection: the scheduler re-runs the confused-deputy probe on every connection that can
// still change, spread over the interval, within a rate shared by every replica, and a status
// change takes effect for issuance at once. Two deputy instances share one database here, the way
// two replicas do; AWS is the STS emulator, where the tests loosen, break and fix roles.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { nextProbeAt, slotOffsetMs } from '../../src/modules/connections/probe-slots.js'
import { ADMIN_TOKEN, buildTestApp, buildTestAppOn, call } from '../helpers/app.js'
import { policy, roleArn, startTestAws, stsCallsOf, VENDOR_ARN } from '../helpers/aws.js'
import { connectRole, createApiClient, createCustomer } from '../helpers/fixtures.js'
import { parseMetrics } from '../helpers/prometheus.js'

const HOUR = 3600 * 1000

t.test('probe slots', async (t) => {
  t.test('each connection is probed on its own slot, once per interval', async (t) => {
    const interval = 6 * HOUR
    for (let i = 0; i < 200; i++) {
      const id = randomUUID()
      const probedAt = new Date(Date.UTC(2026, 10, 28) + Math.floor(Math.random() * 30 * 24 * HOUR))
      const next = nextProbeAt(id, probedAt, interval)
      const gap = next.getTime() - probedAt.getTime()
      if (!(gap > interval / 2 && gap <= 1.5 * interval)) t.fail(`gap ${gap} outside (I/2, 3I/2] for ${id}`)
      if ((next.getTime() - slotOffsetMs(id, interval)) % interval !== 0) t.fail(`${id} is off its slot`)
      // Probed on the slot, or up to a few minutes late, the next probe is one interval later.
      const late = new Date(next.getTime() + Math.floor(Math.random() * 10 * 60 * 1000))
      if (nextProbeAt(id, late, interval).getTime() !== next.getTime() + interval) t.fail(`${id} drifts from its slot after a late probe`)
    }
    t.pass('200 random connections: first probe within (I/2, 3I/2], on the slot, then every I')
  })

  t.test('slots spread evenly over the interval, however the connections were created', async (t) => {
    const interval = 6 * HOUR
    const buckets = new Array<number>(12).fill(0)
    // 6,000 connections registered in the same second: a wave of onboardings.
    const registeredAt = new Date('2026-11-28T12:00:00Z')
    for (let i = 0; i < 6000; i++) {
      const at = nextProbeAt(randomUUID(), registeredAt, interval).getTime() % interval
      buckets[Math.floor(at / (interval / 12))]! += 1
    }
    // 500 expected per half-hour bucket; 4 standard deviations is about +-85.
    t.ok(buckets.every((n) => n > 400 && n < 600), `per half hour: ${buckets.join(', ')}`)
  })
})

t.test('drift detection', async (t) => {
  const aws = await startTestAws(t)
  const env = { ...aws.env, DRIFT_INTERVAL_SECONDS: '3600', DRIFT_STS_CALLS_PER_MINUTE: '4000', DRIFT_TICK_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0' }
  const { app, database, databaseUrl } = await buildTestApp(t, env)
  const replica = await buildTestAppOn(t, databaseUrl, env)
  const { prisma } = database
  const worker = await createApiClient(app, ['credentials:issue'])
  const issue = (connectionId: string) =>
    call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'drift test', durationSeconds: 900 } })
  const getConnection = async (id: string) => (await call(app, 'GET', `/v1/connections/${id}`, { token: ADMIN_TOKEN })).json<{ status: string, nextProbeAt: string | null, verifiedAt: string }>()
  /** Makes connections due now, as if their slot had come. */
  const makeDue = (ids: string[]) => prisma.connection.updateMany({ where: { id: { in: ids } }, data: { nextProbeAt: new Date(Date.now() - 1000) } })
  /** Runs the scheduler on both replicas until nothing is claimed (what a few ticks would do). */
  const drainBoth = async () => {
    const claimed: string[][] = [[], []]
    for (;;) {
      const runs = await Promise.all([app.driftScheduler.runOnce(), replica.app.driftScheduler.runOnce()])
      runs.forEach((run, i) => claimed[i]!.push(...run.results.map((r) => r.connectionId)))
      if (runs.every((run) => run.claimed === 0)) return claimed
    }
  }
  // Keep each subtest to its own connections: earlier ones are pushed far into the future.
  t.beforeEach(async () => { await prisma.connection.updateMany({ where: { status: { not: 'revoked' } }, data: { nextProbeAt: new Date(Date.now() + 24 * HOUR) } }) })

  t.test('a registered connection gets its first slot, half to one and a half intervals away; revoked has none', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connectRole(app, aws.emulator, customer.id)
    const view = await getConnection(connection.id)
    const gap = Date.parse(view.nextProbeAt ?? '') - Date.parse(view.verifiedAt)
    t.ok(gap > 1800 * 1000 && gap <= 5400 * 1000, `first drift probe ${Math.round(gap / 60000)} min after registration`)
    t.equal(Date.parse(view.nextProbeAt ?? ''), nextProbeAt(connection.id, new Date(view.verifiedAt), HOUR).getTime(), 'on the connection\'s slot')
    await makeDue([connection.id])
    await call(app, 'POST', `/v1/connections/${connection.id}/revoke`, { token: ADMIN_TOKEN, body: { reason: 'test' } })
    t.equal((await getConnection(connection.id)).nextProbeAt, null)
    t.same(await drainBoth(), [[], []], 'a revoked connection is never probed, even past its slot')
  })

  t.test('a loosened trust policy makes the connection insecure at once; fixed, it is active again', async (t) => {
    const customer = await createCustomer(app)
    const { connection, externalId, account } = await connectRole(app, aws.emulator, customer.id)
    t.equal((await issue(connection.id)).statusCode, 201, 'issues while the role is secure')

    // The customer drops the external-ID condition: anyone who learns the ARN can use deputy.
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }) })
    await makeDue([connection.id])
    const before = stsCallsOf(aws.emulator)
    const run = await app.driftScheduler.runOnce()
    t.same(run.results, [{ connectionId: connection.id, probed: true, outcome: 'insecure', from: 'active', to: 'insecure' }])
    t.equal(stsCallsOf(aws.emulator) - before, 4, 'four STS calls per probe (and IAM GetRole, which is not STS)')
    t.equal((await getConnection(connection.id)).status, 'insecure')
    const refused = await issue(connection.id)
    t.equal(refused.statusCode, 409, 'issuance refuses the insecure role immediately')
    t.equal(refused.json().code, 'connection_not_active')
    const changed = await prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.status_changed', resourceId: connection.id } })
    t.match(changed, { actorClientId: null, customerId: customer.id, details: { from: 'active', to: 'insecure', reason: 'probe_insecure', phase: 'drift' } })
    t.match(await prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probed', resourceId: connection.id, details: { path: ['phase'], equals: 'drift' } } }), { outcome: 'failure', details: { outcome: 'insecure', findings: ['external_id_not_required'] } })

    // Fixed: the next drift probe brings it back.
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } }) })
    await makeDue([connection.id])
    const back = await replica.app.driftScheduler.runOnce()
    t.match(back.results, [{ connectionId: connection.id, probed: true, outcome: 'pass', from: 'insecure', to: 'active' }], 'any replica may run it')
    t.equal((await issue(connection.id)).statusCode, 201, 'and it issues again')
    const next = await getConnection(connection.id)
    t.ok(Date.parse(next.nextProbeAt ?? '') > Date.now() + 1800 * 1000, 'and waits for its next slot')
  })

  t.test('a deleted role makes the connection failed; an inconclusive probe (STS down or throttling) changes nothing, makes no retries and comes back sooner', async (t) => {
    const customer = await createCustomer(app)
    const { connection, account } = await connectRole(app, aws.emulator, customer.id)
    aws.emulator.deleteRole(roleArn(account))
    await makeDue([connection.id])
    t.match((await app.driftScheduler.runOnce()).results, [{ probed: true, outcome: 'not_assumable', from: 'active', to: 'failed' }])

    for (const kind of ['server_error', 'throttle'] as const) {
      const other = await connectRole(app, aws.emulator, customer.id)
      aws.emulator.injectFault({ kind, count: 1000 })
      const before = stsCallsOf(aws.emulator)
      try {
        await makeDue([other.connection.id])
        t.match((await app.driftScheduler.runOnce()).results, [{ probed: true, outcome: 'error', from: 'active', to: 'active' }], kind)
      } finally {
        aws.emulator.clearFaults()
      }
      t.equal(stsCallsOf(aws.emulator) - before, 3, `${kind}: one attempt per AssumeRole, no retries (the STS rate holds while AWS throttles)`)
      const view = await getConnection(other.connection.id)
      t.equal(view.status, 'active', `${kind}: not the customer's fault`)
      t.ok(Date.parse(view.nextProbeAt ?? '') <= Date.now() + 10 * 60 * 1000 + 1000, `${kind}: probed again within 10 minutes`)
    }
  })

  t.test('a slow probe whose claim expired and was taken by another replica stores nothing; the newer result stands', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connectRole(app, aws.emulator, customer.id)
    await makeDue([connection.id])
    aws.emulator.injectFault({ kind: 'latency', latencyMs: 700, count: 1 })
    const slow = app.driftScheduler.runOnce()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await makeDue([connection.id]) // as if the lease had run out while the first replica waits on STS
    const fast = await replica.app.driftScheduler.runOnce()
    t.match(fast.results, [{ connectionId: connection.id, probed: true, outcome: 'pass' }], 'the second replica probes and stores')
    t.match((await slow).results, [{ connectionId: connection.id, probed: false, reason: 'changed_meanwhile' }], 'the first one\'s late result is dropped')
    t.equal(await prisma.auditEvent.count({ where: { action: 'connection.probed', resourceId: connection.id, details: { path: ['phase'], equals: 'drift' } } }), 1, 'one drift probe recorded')
  })

  t.test('two replicas: every due connection probed exactly once, none twice, none skipped', async (t) => {
    // Replicas as deployed: a 60 s tick, so each run claims a batch (16 at most), not one.
    const tick = { ...env, DRIFT_TICK_MS: '60000' }
    const [one, two] = [await buildTestAppOn(t, databaseUrl, tick), await buildTestAppOn(t, databaseUrl, tick)]
    t.equal(one.app.driftScheduler.perRun, 16)
    const customer = await createCustomer(app)
    const ids: string[] = []
    for (let i = 0; i < 40; i++) ids.push((await connectRole(app, aws.emulator, customer.id)).connection.id)
    await makeDue(ids)
    const claimed: string[][] = [[], []]
    for (;;) {
      const runs = await Promise.all([one.app.driftScheduler.runOnce(), two.app.driftScheduler.runOnce()])
      runs.forEach((run, i) => claimed[i]!.push(...run.results.filter((r) => r.probed).map((r) => r.connectionId)))
      if (runs.every((run) => run.claimed === 0)) break
    }
    const [first = [], second = []] = claimed
    t.same([...first, ...second].sort(), [...ids].sort(), `all 40 probed (${first.length} by one replica, ${second.length} by the other)`)
    t.equal(new Set([...first, ...second]).size, 40, 'none twice')
    t.ok(first.length > 0 && second.length > 0, 'both replicas took a share')
    const events = await prisma.auditEvent.groupBy({ by: ['resourceId'], where: { action: 'connection.probed', resourceId: { in: ids }, details: { path: ['phase'], equals: 'drift' } }, _count: true })
    t.ok(events.length === 40 && events.every((e) => e._count === 1), 'one drift probe event per connection')
  })

  t.test('a suspended customer\'s connections are not probed until it resumes', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connectRole(app, aws.emulator, customer.id)
    await call(app, 'POST', `/v1/customers/${customer.id}/suspend`, { token: ADMIN_TOKEN, body: { reason: 'unpaid' } })
    await makeDue([connection.id])
    t.same(await drainBoth(), [[], []])
    await call(app, 'POST', `/v1/customers/${customer.id}/resume`, { token: ADMIN_TOKEN, body: {} })
    t.same((await drainBoth()).flat(), [connection.id])
  })

  t.test('a replica that dies mid-probe: its claim keeps the others off until the lease ends, then one takes it', async (t) => {
    const customer = await createCustomer(app)
    const { connection } = await connectRole(app, aws.emulator, customer.id)
    await makeDue([connection.id])
    // The claim alone, as a replica that crashed right after it would leave things.
    const claimedAt = Date.now()
    await prisma.$executeRaw`UPDATE "connections" SET "next_probe_at" = now() + interval '15 minutes', "probe_claimed_at" = now() WHERE "id" = ${connection.id}::uuid`
    t.same(await drainBoth(), [[], []], 'nobody probes it while the claim holds')
    const view = await getConnection(connection.id)
    t.ok(Date.parse(view.nextProbeAt ?? '') >= claimedAt + 14 * 60 * 1000, 'the lease shows as the next probe')
    await makeDue([connection.id]) // the lease has run out
    t.same((await drainBoth()).flat(), [connection.id], 'then exactly one replica probes it')
  })
})

t.test('the shared STS call rate holds across replicas; the backlog is in /metrics', async (t) => {
  const aws = await startTestAws(t)
  // 20 STS calls per minute: 5 probes per minute over both replicas.
  const env = { ...aws.env, DRIFT_INTERVAL_SECONDS: '3600', DRIFT_STS_CALLS_PER_MINUTE: '20', DRIFT_TICK_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0' }
  const { app, database, databaseUrl } = await buildTestApp(t, env)
  const replica = await buildTestAppOn(t, databaseUrl, env)
  const customer = await createCustomer(app)
  const ids: string[] = []
  for (let i = 0; i < 12; i++) ids.push((await connectRole(app, aws.emulator, customer.id)).connection.id)
  await database.prisma.connection.updateMany({ where: { id: { in: ids } }, data: { nextProbeAt: new Date(Date.now() - 1000) } })
  const before = stsCallsOf(aws.emulator)
  let probed = 0
  for (let round = 0; round < 6; round++) {
    const runs = await Promise.all([app.driftScheduler.runOnce(), replica.app.driftScheduler.runOnce()])
    probed += runs.reduce((n, run) => n + run.claimed, 0)
  }
  t.equal(probed, 5, '5 probes in this minute, over both replicas and 12 runs')
  t.equal(stsCallsOf(aws.emulator) - before, 20, '20 STS calls')

  const monitor = await createApiClient(app, ['metrics:read'])
  const scrape = await call(app, 'GET', '/metrics', { token: monitor.token })
  t.equal(parseMetrics(scrape.body).get('deputy_drift_backlog_connections'), 7, 'the 7 still due are the backlog')
})

t.test('deputy\'s own identity refused (an SCP on the vendor account): drift fails no connection and pauses', async (t) => {
  const aws = await startTestAws(t)
  const controlRole = roleArn('111111111111', 'DeputyControl')
  aws.emulator.putRole({ arn: controlRole, trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }) })
  const { app, database } = await buildTestApp(t, { ...aws.env, STS_CONTROL_ROLE_ARN: controlRole, DRIFT_INTERVAL_SECONDS: '3600', DRIFT_TICK_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0' })
  const customer = await createCustomer(app)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await connectRole(app, aws.emulator, customer.id)).connection.id)
  await database.prisma.connection.updateMany({ where: { id: { in: ids } }, data: { nextProbeAt: new Date(Date.now() - 1000) } })
  aws.emulator.denyAssumeRoleFor(VENDOR_ARN)
  const run = await app.driftScheduler.runOnce()
  t.match(run.results[0], { probed: false, reason: 'vendor_identity' })
  t.ok(aws.emulator.calls().some((c) => c.action === 'AssumeRole' && c.params.RoleArn === controlRole), 'the control role was asked')
  const statuses = await database.prisma.connection.findMany({ where: { id: { in: ids } }, select: { status: true } })
  t.ok(statuses.every((c) => c.status === 'active'), 'no connection failed')
  t.equal(await database.prisma.auditEvent.count({ where: { action: 'connection.status_changed' } }), 0, 'and no status change recorded')
})

t.test('the timer: a replica with DRIFT_TICK_MS probes due connections by itself', async (t) => {
  const aws = await startTestAws(t)
  const { app, database } = await buildTestApp(t, { ...aws.env, DRIFT_INTERVAL_SECONDS: '3600', DRIFT_TICK_MS: '100', AUDIT_SEAL_INTERVAL_MS: '0' })
  const customer = await createCustomer(app)
  const { connection, account } = await connectRole(app, aws.emulator, customer.id)
  aws.emulator.deleteRole(roleArn(account))
  await database.prisma.connection.update({ where: { id: connection.id }, data: { nextProbeAt: new Date(Date.now() - 1000) } })
  const deadline = Date.now() + 10_000
  let status = 'active'
  while (status === 'active' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    status = (await database.prisma.connection.findUniqueOrThrow({ where: { id: connection.id } })).status
  }
  t.equal(status, 'failed', 'the scheduler found the deleted role without being asked')
})
