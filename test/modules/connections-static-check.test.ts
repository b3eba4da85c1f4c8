// The probe's static check end to end: deputy reads the trust policy with IAM GetRole (signed
// request to the emulator) using the session of the probe's first call, and the analysis decides.
// A policy the three behavioural calls cannot fault (StringLike "<id>*") becomes insecure, with
// the witness replayed through AssumeRole (the real SDK) and admitted; a role without the
// iam:GetRole grant is checked as before.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { policy, roleArn, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { createCustomer, mintExternalId, awsAccount } from '../helpers/fixtures.js'

const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']
const vendor = (condition: object): Record<string, unknown> => ({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ACTIONS, Condition: condition })
/** The kit's grant: the role may read itself, and nothing else. */
const readSelf = (arn: string): object => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: arn }] })

interface Report {
  outcome: string
  calls: Array<{ step: string, outcome: string }>
  findings: Array<{ code: string, message: string }>
  staticCheck?: { status: string, detail: string, statement: string | null, witness: { externalId: string | null, roleSessionName: string, sourceIdentity: string | null } | null, confirmed: boolean | null }
}

t.test('the static check in the probe', async (t) => {
  const aws = await startTestAws(t)
  const { app, database } = await buildTestApp(t, aws.env)
  const customer = await createCustomer(app)
  const stepOutcomes = (report: Report) => Object.fromEntries(report.calls.map((c) => [c.step, c.outcome]))

  async function register (trust: (id: string) => object, options: { grant?: boolean } = {}) {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const arn = roleArn(account)
    aws.emulator.putRole({ arn, trustPolicy: trust(externalId.externalId), permissions: options.grant === false ? [] : [readSelf(arn)] })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: arn } })
    return { res, externalId: externalId.externalId, externalIdId: externalId.id, arn, account }
  }

  t.test('StringLike "<id>*" passes the three behavioural calls but is insecure by the static check, confirmed by replaying the witness', async (t) => {
    const { res, externalId, arn } = await register((id) => policy(vendor({ StringLike: { 'sts:ExternalId': `${id}*` } })))
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'role_trust_policy_insecure')
    const report = res.json().probe as Report
    t.match(stepOutcomes(report), { with_external_id: 'allowed', caller_identity: 'allowed', without_external_id: 'denied', wrong_external_id: 'denied', read_trust_policy: 'allowed', replay_witness: 'allowed' }, 'every behavioural call passes; the static step does not')
    t.equal(report.outcome, 'insecure')
    const witness = report.staticCheck?.witness?.externalId ?? ''
    t.match(report.staticCheck, { status: 'violation', statement: 'statement 0', confirmed: true })
    t.ok(witness.startsWith(externalId) && witness !== externalId, `the witness extends the ID: ${witness}`)
    t.match(report.findings, [{ code: 'trust_policy_admits_other_external_id', message: new RegExp(`${witness}.*AWS confirmed it`) }])
    const replayed = aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.params.RoleArn === arn).at(-1)
    t.match(replayed, { outcome: 'ok', params: { ExternalId: witness, SourceIdentity: 'deputy.probe', RoleSessionName: /^deputy-probe\./ } }, 'the replay is an AssumeRole with the witness, allowed by the emulator')
    t.same(JSON.parse(replayed?.params.Policy ?? '{}').Statement, [{ Effect: 'Deny', Action: '*', Resource: '*' }], 'under the deny-all session policy')
    const audit = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probed', resourceType: 'external_id' }, orderBy: { seq: 'desc' } })
    t.match(audit.details, { outcome: 'insecure', phase: 'registration' })
  })

  t.test('a list including another customer\'s ID: the foreign ID is the witness', async (t) => {
    const foreign = '0b7e2d4c-9a1f-4e3b-8c5d-7f6a1e2b3c4d'
    const { res } = await register((id) => policy({ Sid: 'Vendor', ...vendor({ StringEquals: { 'sts:ExternalId': [id, foreign] } }) }))
    t.equal(res.statusCode, 422)
    t.match(res.json().probe.staticCheck, { status: 'violation', statement: 'Sid Vendor', witness: { externalId: foreign }, confirmed: true })
  })

  t.test('the kit\'s policy with the grant: proved, active', async (t) => {
    const { res } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } })))
    t.equal(res.statusCode, 201)
    t.match(res.json(), { status: 'active', verification: { outcome: 'pass', staticCheck: { status: 'proved', witness: null, confirmed: null } } })
    t.equal(stepOutcomes(res.json().verification).read_trust_policy, 'allowed')
  })

  t.test('a role without iam:GetRole: unavailable, the probe alone decides (active)', async (t) => {
    const { res } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } })), { grant: false })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { status: 'active', verification: { outcome: 'pass', staticCheck: { status: 'unavailable', detail: /iam:GetRole/ } } })
    t.equal(stepOutcomes(res.json().verification).read_trust_policy, 'denied')
  })

  t.test('a condition deputy cannot decide: unknown is reported and does not block', async (t) => {
    const { res } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } }), { Sid: 'Team', Effect: 'Allow', Principal: '*', Action: ACTIONS, Condition: { StringEquals: { 'aws:PrincipalTag/team': 'ops' } } }))
    t.equal(res.statusCode, 201)
    t.match(res.json().verification, { outcome: 'pass', staticCheck: { status: 'unknown', statement: 'Sid Team', detail: /aws:PrincipalTag\/team/ } }, 'a wildcard principal with a condition on a key deputy does not fix')
  })

  t.test('IAM failing the read leaves the behavioural verdict standing', async (t) => {
    aws.emulator.injectFault({ kind: 'unavailable', action: 'GetRole', durationMs: 60_000 })
    t.teardown(() => aws.emulator.clearFaults())
    const { res } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } })))
    t.equal(res.statusCode, 201)
    t.match(res.json().verification, { outcome: 'pass', staticCheck: { status: 'unavailable', detail: /IAM GetRole failed \(ServiceUnavailable\)/ } })
  })

  t.test('drift: a role loosened to "<id>*" after registration is found insecure by the scheduler', async (t) => {
    const { res, externalId, arn } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } })))
    t.equal(res.statusCode, 201)
    const id = res.json().id as string
    aws.emulator.putRole({ arn, trustPolicy: policy(vendor({ StringLike: { 'sts:ExternalId': `${externalId}*` } })), permissions: [readSelf(arn)] })
    await database.prisma.connection.updateMany({ where: { status: { not: 'revoked' } }, data: { nextProbeAt: new Date(Date.now() + 3_600_000) } })
    await database.prisma.connection.update({ where: { id }, data: { nextProbeAt: new Date(Date.now() - 1000) } })
    const run = await app.driftScheduler.runOnce()
    t.same(run.results, [{ connectionId: id, probed: true, outcome: 'insecure', from: 'active', to: 'insecure' }])
    const view = (await call(app, 'GET', `/v1/connections/${id}`, { token: ADMIN_TOKEN })).json()
    t.match(view, { status: 'insecure', verification: { staticCheck: { status: 'violation', confirmed: true } } })
  })

  t.test('a rotation: the role trusting both of the account\'s IDs is proved, not a violation', async (t) => {
    const { res, externalId, externalIdId, arn } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } })))
    t.equal(res.statusCode, 201)
    const rotated = await call(app, 'POST', `/v1/external-ids/${externalIdId}/rotate`, { token: ADMIN_TOKEN })
    t.equal(rotated.statusCode, 201, rotated.body)
    const successor = rotated.json().successor.externalId as string
    aws.emulator.putRole({ arn, trustPolicy: policy(vendor({ StringEquals: { 'sts:ExternalId': [successor, externalId] } })), permissions: [readSelf(arn)] })
    const verified = await call(app, 'POST', `/v1/connections/${res.json().id as string}/verify`, { token: ADMIN_TOKEN })
    t.equal(verified.statusCode, 200, verified.body)
    t.match(verified.json(), { status: 'active', verification: { outcome: 'pass', staticCheck: { status: 'proved' } } }, 'probed with the successor, the predecessor is not foreign')
    const rotationProbe = await database.prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probed', details: { path: ['phase'], equals: 'rotation' } }, orderBy: { seq: 'desc' } })
    t.match(rotationProbe, { outcome: 'success' }, 'the rotation moved to the successor')
  })
})
