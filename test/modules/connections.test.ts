// Registering a customer's role: the confused-deputy probe decides, through the real SDK and the
// STS emulator, whether deputy may store and use the role.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { policy, roleArn, secureTrust, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

t.test('connections', async (t) => {
  const aws = await startTestAws(t)
  const { app, database } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)

  async function register (trust: object | null, options: { name?: string, arnAccount?: string, delayMs?: number } = {}) {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const arn = roleArn(options.arnAccount ?? account, options.name ?? 'DeputyAccess')
    if (trust !== null) aws.emulator.putRole({ arn: roleArn(account, options.name ?? 'DeputyAccess'), trustPolicy: trust, propagationDelayMs: options.delayMs ?? 0 })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: arn } })
    return { res, externalId, arn, account }
  }

  const stepOutcomes = (report: { calls: Array<{ step: string, outcome: string }> }) => Object.fromEntries(report.calls.map((c) => [c.step, c.outcome]))

  t.test('StringEquals on the right external ID: pass, stored active with the report', async (t) => {
    const { res, externalId, arn } = await register(secureTrust('PLACEHOLDER'))
    t.equal(res.statusCode, 422, 'the placeholder policy does not name the minted ID')
    aws.emulator.putRole({ arn, trustPolicy: secureTrust(externalId.externalId) })
    const ok = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: arn } })
    t.equal(ok.statusCode, 201)
    const body = ok.json()
    t.match(body, { status: 'active', roleArn: arn, externalIdId: externalId.id, awsAccountId: externalId.awsAccountId, verification: { outcome: 'pass', vendorPrincipalArn: VENDOR_ARN } })
    t.same(stepOutcomes(body.verification), { with_external_id: 'allowed', caller_identity: 'allowed', without_external_id: 'denied', wrong_external_id: 'denied', read_trust_policy: 'denied' })
    t.match(body.verification.staticCheck, { status: 'unavailable', detail: /grant iam:GetRole/ }, 'a role without the iam:GetRole grant: the probe alone decides')
    for (const c of body.verification.calls) t.match(c.stsRequestId, /^[0-9a-f-]{36}$/)
    const assumes = aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.params.RoleArn === arn).slice(-3)
    t.same(assumes.map((c) => c.params.ExternalId === externalId.externalId ? 'right' : c.params.ExternalId === undefined ? 'none' : 'wrong'), ['right', 'none', 'wrong'])
    t.same(JSON.parse(assumes[0]?.params.Policy ?? '{}'), { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: arn }] }, 'the first session may only read the role itself')
    for (const c of assumes) {
      t.equal(c.params.DurationSeconds, '900')
      if (c !== assumes[0]) t.same(JSON.parse(c.params.Policy ?? '{}'), { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }, 'the other probe sessions can do nothing')
      t.equal(c.params.SourceIdentity, 'deputy.probe')
    }
    const events = await database.prisma.auditEvent.findMany({ where: { resourceId: body.id }, orderBy: { seq: 'asc' } })
    t.same(events.map((e) => e.action), ['connection.probed', 'connection.created'])
    t.match(events[0]?.details, { outcome: 'pass', phase: 'registration' })
  })

  const refusedCases: Array<[string, (id: string) => object | null, string, string, Record<string, string>]> = [
    ['no condition at all', () => policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }), 'insecure', 'role_trust_policy_insecure', { without_external_id: 'allowed', wrong_external_id: 'allowed' }],
    ['StringLike "*"', () => policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringLike: { 'sts:ExternalId': '*' } } }), 'insecure', 'role_trust_policy_insecure', { without_external_id: 'denied', wrong_external_id: 'allowed' }],
    ['a condition on another key only', () => policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'aws:PrincipalAccount': '111111111111' } } }), 'insecure', 'role_trust_policy_insecure', { without_external_id: 'allowed' }],
    ['a Deny for a missing ID but no pinned value', () => policy(
      { Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] },
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { Null: { 'sts:ExternalId': 'true' } } }
    ), 'insecure', 'role_trust_policy_insecure', { without_external_id: 'denied', wrong_external_id: 'allowed' }],
    ['the wrong principal', (id) => secureTrust(id, 'arn:aws:iam::999999999999:user/someone-else'), 'not_assumable', 'role_not_assumable', { with_external_id: 'denied' }],
    ['a role that does not exist', () => null, 'not_assumable', 'role_not_assumable', { with_external_id: 'denied' }],
    ['a trust policy without sts:SetSourceIdentity', (id) => policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': id } } }), 'not_assumable', 'role_not_assumable', { with_external_id: 'denied' }]
  ]

  for (const [name, trustFor, outcome, code, steps] of refusedCases) {
    t.test(`${name}: ${outcome}, refused, nothing stored`, async (t) => {
      const account = awsAccount()
      const externalId = await mintExternalId(app, customer.id, account)
      const arn = roleArn(account)
      const trust = trustFor(externalId.externalId)
      if (trust !== null) aws.emulator.putRole({ arn, trustPolicy: trust })
      const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: arn } })
      t.equal(res.statusCode, 422)
      const body = res.json()
      t.equal(body.code, code)
      t.equal(body.probe.outcome, outcome)
      t.match(stepOutcomes(body.probe), steps)
      t.ok(body.probe.findings.length > 0)
      t.ok(body.detail.length > 20, 'says what to change')
      if (outcome === 'insecure') t.match(body.detail, new RegExp(externalId.externalId), 'names the exact condition to add')
      t.equal(await database.prisma.connection.count({ where: { externalIdId: externalId.id } }), 0, 'the role ARN is not stored')
      const event = await database.prisma.auditEvent.findFirst({ where: { action: 'connection.probed', resourceId: externalId.id } })
      t.match(event, { outcome: 'failure', details: { outcome, roleArn: arn, phase: 'registration' } }, 'only the audit trail remembers the attempt')
    })
  }

  t.test('the missing sts:SetSourceIdentity permission is named', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } }) })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    t.match(res.json().probe.findings, [{ code: 'source_identity_not_allowed' }])
  })

  t.test('a list of IDs including the right one passes (the probe cannot see the other values)', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': ['another-vendors-id-1', externalId.externalId] } } }) })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    t.equal(res.statusCode, 201)
  })

  t.test('a role that becomes assumable only after IAM propagates: retried, then pass', async (t) => {
    const patient = await buildTestApp(t, { ...aws.env, PROBE_PROPAGATION_WINDOW_MS: '10000' })
    const account = awsAccount()
    const owner = await createCustomer(patient.app)
    const externalId = await mintExternalId(patient.app, owner.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId), propagationDelayMs: 1200 })
    const res = await call(patient.app, 'POST', `/v1/customers/${owner.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    t.equal(res.statusCode, 201, res.body)
    const first = res.json().verification.calls[0]
    t.equal(first.step, 'with_external_id')
    t.ok(first.attempts > 1, `call 1 was retried (${first.attempts as number} attempts)`)
  })

  t.test('a role in another account than the external ID is 422 account_mismatch, no STS call', async (t) => {
    const before = aws.emulator.calls().length
    const { res } = await register(null, { arnAccount: '999988887777' })
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'account_mismatch')
    t.equal(aws.emulator.calls().length, before)
  })

  t.test('STS unavailable: 503 sts_unavailable, nothing concluded, nothing stored', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    aws.emulator.injectFault({ kind: 'throttle', count: 1000 })
    t.teardown(() => aws.emulator.clearFaults())
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    aws.emulator.clearFaults()
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'sts_unavailable')
    t.equal(res.json().probe.outcome, 'error')
    t.ok(res.headers['retry-after'])
    t.equal(await database.prisma.connection.count({ where: { externalIdId: externalId.id } }), 0)
  })

  t.test('rules: ARN format, retired ID, one live connection per ID, concurrent registration', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    for (const bad of ['arn:aws:iam::123:role/x', `arn:aws:iam::${account}:user/x`, `arn:aws:s3:::${account}`, `arn:aws-cn:iam::${account}:role/`, 'nope']) {
      const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: bad } })
      t.equal(res.statusCode, 400, bad)
    }
    const path = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: `arn:aws:iam::${account}:role/team/a/DeputyAccess` } })
    t.equal(path.statusCode, 422, 'a role path is a valid ARN (this role just does not exist)')
    const both = await Promise.all([1, 2].map(() => call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })))
    t.same(both.map((r) => r.statusCode).sort(), [201, 409])
    t.equal(both.find((r) => r.statusCode === 409)?.json().code, 'connection_exists')
    t.equal(await database.prisma.connection.count({ where: { externalIdId: externalId.id } }), 1)

    const retired = await mintExternalId(app, customer.id, awsAccount())
    await call(app, 'POST', `/v1/external-ids/${retired.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'test' } })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: retired.id, roleArn: roleArn(retired.awsAccountId) } })
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'external_id_not_active')
  })

  t.test('verify: a role that later stops checking the ID becomes insecure, and active again once fixed', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    const created = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })).json()
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }) })
    const insecure = await call(app, 'POST', `/v1/connections/${created.id as string}/verify`, { token: ADMIN_TOKEN })
    t.equal(insecure.statusCode, 200)
    t.match(insecure.json(), { status: 'insecure', verification: { outcome: 'insecure' } })
    aws.emulator.deleteRole(roleArn(account))
    const failed = await call(app, 'POST', `/v1/connections/${created.id as string}/verify`, { token: ADMIN_TOKEN })
    t.match(failed.json(), { status: 'failed', verification: { outcome: 'not_assumable' } })
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    const fixed = await call(app, 'POST', `/v1/connections/${created.id as string}/verify`, { token: ADMIN_TOKEN })
    t.match(fixed.json(), { status: 'active', verification: { outcome: 'pass' } })
    const changes = await database.prisma.auditEvent.findMany({ where: { resourceId: created.id, action: 'connection.status_changed' }, orderBy: { seq: 'asc' } })
    t.same(changes.map((e) => [(e.details as { from: string }).from, (e.details as { to: string }).to]), [['active', 'insecure'], ['insecure', 'failed'], ['failed', 'active']])
    t.equal(await database.prisma.auditEvent.count({ where: { resourceId: created.id, action: 'connection.probed' } }), 4, 'every probe is audited')
  })

  t.test('retiring the external ID revokes its connection', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    const created = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })).json()
    await call(app, 'POST', `/v1/external-ids/${externalId.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'offboarded' } })
    const got = await call(app, 'GET', `/v1/connections/${created.id as string}`, { token: ADMIN_TOKEN })
    t.equal(got.json().status, 'revoked')
    t.ok(got.json().revokedAt)
    t.equal(await database.prisma.auditEvent.count({ where: { action: 'connection.revoked', resourceId: created.id } }), 1)
    const verify = await call(app, 'POST', `/v1/connections/${created.id as string}/verify`, { token: ADMIN_TOKEN })
    t.equal(verify.statusCode, 409)
  })

  t.test('list, get, scopes and tenant isolation', async (t) => {
    const other = await createCustomer(app)
    const account = awsAccount()
    const externalId = await mintExternalId(app, other.id, account)
    aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId) })
    const theirs = (await call(app, 'POST', `/v1/customers/${other.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })).json()
    const bound = await createApiClient(app, ['connections:read', 'connections:write'], customer.id)
    const reader = await createApiClient(app, ['connections:read'])

    const own = await call(app, 'GET', `/v1/customers/${customer.id}/connections?status=active`, { token: bound.token })
    t.equal(own.statusCode, 200)
    t.ok(own.json().items.every((c: { customerId: string, status: string }) => c.customerId === customer.id && c.status === 'active'))
    for (const res of [
      await call(app, 'GET', `/v1/connections/${theirs.id as string}`, { token: bound.token }),
      await call(app, 'POST', `/v1/connections/${theirs.id as string}/verify`, { token: bound.token }),
      await call(app, 'GET', `/v1/customers/${other.id}/connections`, { token: bound.token }),
      await call(app, 'POST', `/v1/customers/${other.id}/connections`, { token: bound.token, body: { externalIdId: externalId.id, roleArn: roleArn(account) } }),
      await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: bound.token, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
    ]) t.equal(res.statusCode, 404)
    t.equal((await call(app, 'GET', `/v1/connections/${theirs.id as string}`)).statusCode, 401)
    t.equal((await call(app, 'POST', `/v1/connections/${theirs.id as string}/verify`, { token: reader.token })).statusCode, 403)
    t.equal((await call(app, 'POST', `/v1/customers/${other.id}/connections`, { token: reader.token, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })).statusCode, 403)
    t.equal((await call(app, 'GET', `/v1/connections/${theirs.id as string}`, { token: reader.token })).json().id, theirs.id)
    const filtered = await call(app, 'GET', `/v1/customers/${other.id}/connections?awsAccountId=${account}`, { token: ADMIN_TOKEN })
    t.same(filtered.json().items.map((c: { id: string }) => c.id), [theirs.id])
  })
})

t.test('without AWS configured, connection routes answer 503 aws_not_configured', async (t) => {
  const { app } = await buildTestApp(t)
  const customer = await createCustomer(app)
  const externalId = await mintExternalId(app, customer.id, '123456789012')
  const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn('123456789012') } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'aws_not_configured')
})
