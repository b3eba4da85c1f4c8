// Following deputy's own rotation kit must not end in an outage. A customer applies each kit the
// way the sandbox does (its CloudFormation template, through the sandbox's own stack service into
// the STS emulator): mint, kit, register, rotate, apply the two-ID kit, verify (the rotation
// completes), verify again, and let drift probe once. The retired predecessor still listed in the
// trust policy is this account's own: deputy never presents it again and no other customer holds
// it, so it is a finding to act on, not a reason to stop issuing. An ID deputy issued to another
// customer, or a value deputy never issued, still makes the role insecure, each named for what it is.
import t, { type Test } from 'tap'
import { createSandboxService } from '../../src/modules/sandbox/sandbox.service.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { policy, roleArn, startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

interface Finding { code: string, message: string }
interface Report { outcome: string, findings: Finding[], staticCheck?: { status: string, witness: { externalId: string | null } | null } }
interface Kit { externalIdId: string, roleArn: string, rotation: object | null, trustPolicy: { Statement: Array<{ Condition: { StringEquals: { 'sts:ExternalId': string | string[] } } }> }, cloudFormation: { template: string } }
interface Connection { id: string, externalIdId: string, status: string, verification: Report, onboarding?: Kit | null }
interface ExternalIdView { id: string, externalId: string, status: string }

const ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity']
const RETIRED = 'trust_policy_admits_retired_external_id'
const OTHER = 'trust_policy_admits_other_external_id'
const readSelf = (arn: string): object => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: arn }] })
const vendor = (condition: object): Record<string, unknown> => ({ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ACTIONS, Condition: condition })
const admitted = (kit: Kit): string | string[] | undefined => kit.trustPolicy.Statement[0]?.Condition.StringEquals['sts:ExternalId']

t.test('following the rotation kit', async (t) => {
  const aws = await startTestAws(t)
  const { app, database } = await buildTestApp(t, { ...aws.env, AUDIT_SEAL_INTERVAL_MS: '0' })
  const { prisma } = database
  // The sandbox's CloudFormation: "create or update" of the template's role in an emulated account.
  const stacks = createSandboxService({ emulator: aws.emulator, partition: 'aws' })
  const worker = await createApiClient(app, ['credentials:issue'])
  const kitOf = async (externalIdId: string) => (await call(app, 'GET', `/v1/external-ids/${externalIdId}/onboarding`, { token: ADMIN_TOKEN })).json<Kit>()
  const verify = (id: string) => call(app, 'POST', `/v1/connections/${id}/verify`, { token: ADMIN_TOKEN })
  const issue = async (connectionId: string): Promise<{ status: number, externalId: string | undefined }> => {
    const res = await call(app, 'POST', `/v1/connections/${connectionId}/credentials`, { token: worker.token, body: { purpose: 'rotation kit test', durationSeconds: 900 } })
    return { status: res.statusCode, externalId: aws.emulator.calls().filter((c) => c.action === 'AssumeRole' && c.outcome === 'ok').at(-1)?.params.ExternalId }
  }

  t.test('mint, kit, register, rotate, apply, verify, verify again, drift: active throughout, one non-blocking finding', async (t) => {
    const customer = await createCustomer(app)
    const account = awsAccount()
    const first = await mintExternalId(app, customer.id, account)
    const kit = await kitOf(first.id)
    stacks.applyStack(account, { template: kit.cloudFormation.template })
    const registered = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: first.id, roleArn: kit.roleArn } })
    t.equal(registered.statusCode, 201, registered.body)
    const connection = registered.json<Connection>()
    t.match(connection.verification, { outcome: 'pass', staticCheck: { status: 'proved' } })

    const rotated = await call(app, 'POST', `/v1/external-ids/${first.id}/rotate`, { token: ADMIN_TOKEN })
    t.equal(rotated.statusCode, 201, rotated.body)
    const { successor, onboarding } = rotated.json<{ successor: ExternalIdView, onboarding: Kit }>()
    t.same(admitted(onboarding), [successor.externalId, first.externalId], 'the rotation kit lists the successor and the predecessor')
    stacks.applyStack(account, { template: onboarding.cloudFormation.template })

    const done = await verify(connection.id)
    t.equal(done.statusCode, 200, done.body)
    const moved = done.json<Connection>()
    t.match(moved, { externalIdId: successor.id, status: 'active', verification: { outcome: 'pass', staticCheck: { status: 'proved' } } }, 'the rotation completes')
    t.equal((await call(app, 'GET', `/v1/external-ids/${first.id}`, { token: ADMIN_TOKEN })).json<ExternalIdView>().status, 'retired')
    t.match(moved.onboarding, { externalIdId: successor.id, rotation: null }, 'the verify that completes the rotation returns the final kit')
    const afterMove = aws.emulator.calls().length
    t.equal(moved.onboarding === undefined || moved.onboarding === null ? undefined : admitted(moved.onboarding), successor.externalId, 'whose trust policy names the successor alone')

    // The customer has not yet deployed the final kit: the policy still lists the retired ID.
    const again = await verify(connection.id)
    t.equal(again.statusCode, 200, again.body)
    const view = again.json<Connection>()
    t.equal(view.status, 'active', 'still active')
    t.equal(view.verification.outcome, 'pass')
    t.equal(view.verification.staticCheck?.status, 'proved', 'no other external ID is admitted')
    t.equal(view.onboarding, undefined, 'a verify that completes no rotation carries no kit')
    t.same(view.verification.findings.map((f) => f.code), [RETIRED], 'one finding: the retired ID')
    const finding = view.verification.findings[0]?.message ?? ''
    t.ok(finding.includes(first.externalId), 'it names the retired ID')
    t.match(finding, /retired/)
    t.match(finding, /remove it/i, 'and asks the customer to remove it')
    t.notMatch(finding, /another customer/, 'it does not call this account\'s own ID another customer\'s')
    t.match(await issue(connection.id), { status: 201, externalId: successor.externalId }, 'issuance works, with the successor')

    // Drift, once, without timers: the same verdict.
    await prisma.connection.updateMany({ where: { status: { not: 'revoked' } }, data: { nextProbeAt: new Date(Date.now() + 24 * 3600 * 1000) } })
    await prisma.connection.update({ where: { id: connection.id }, data: { nextProbeAt: new Date(Date.now() - 1000) } })
    const run = await app.driftScheduler.runOnce()
    t.match(run.results, [{ connectionId: connection.id, probed: true, outcome: 'pass', from: 'active', to: 'active' }], 'drift leaves it active')
    const drifted = (await call(app, 'GET', `/v1/connections/${connection.id}`, { token: ADMIN_TOKEN })).json<Connection>()
    t.same(drifted.verification.findings.map((f) => f.code), [RETIRED], 'and reports the same finding')
    t.match(await prisma.auditEvent.findFirstOrThrow({ where: { action: 'connection.probed', resourceId: connection.id, details: { path: ['phase'], equals: 'drift' } } }), { outcome: 'success', details: { outcome: 'pass', findings: [RETIRED] } })
    t.match(await issue(connection.id), { status: 201, externalId: successor.externalId }, 'issuance still works after drift')
    t.notOk(aws.emulator.calls().slice(afterMove).some((c) => c.action === 'AssumeRole' && c.params.ExternalId === first.externalId), 'deputy never presented the retired ID after the move: not to probe, not to confirm, not to issue')

    // The customer deploys the final kit: nothing left to report.
    stacks.applyStack(account, { template: (moved.onboarding as Kit).cloudFormation.template })
    const clean = (await verify(connection.id)).json<Connection>()
    t.equal(clean.verification.outcome, 'pass')
    t.same(clean.verification.findings, [], 'nothing left to report')
  })

  /** A role whose trust policy is the given one, with the kit's iam:GetRole grant, registered. */
  async function register (trust: (id: string) => object) {
    const customer = await createCustomer(app)
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const arn = roleArn(account)
    aws.emulator.putRole({ arn, trustPolicy: trust(externalId.externalId), permissions: [readSelf(arn)] })
    const res = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: arn } })
    return { res, report: res.json<{ probe: Report }>().probe, customer }
  }

  t.test('an ID deputy issued to another customer: insecure, and the message says whose it is not', async (t) => {
    const other = await createCustomer(app)
    const foreign = await mintExternalId(app, other.id, awsAccount())
    const { res, report } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': [id, foreign.externalId] } })))
    t.match({ status: res.statusCode, code: res.json<{ code: string }>().code }, { status: 422, code: 'role_trust_policy_insecure' })
    t.match(report, { outcome: 'insecure', staticCheck: { status: 'violation', witness: { externalId: foreign.externalId } } })
    const finding = report.findings.find((f) => f.code === OTHER)
    t.match(finding?.message, /which deputy issued to another customer of the vendor/)
    t.notMatch(finding?.message, other.id, 'without saying which customer')
    t.notOk(report.findings.some((f) => f.code === RETIRED))
  })

  t.test('another customer\'s retired ID is still another customer\'s: insecure', async (t) => {
    const other = await createCustomer(app)
    const foreign = await mintExternalId(app, other.id, awsAccount())
    t.equal((await call(app, 'POST', `/v1/external-ids/${foreign.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'test' } })).statusCode, 200)
    const { report } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': [id, foreign.externalId] } })))
    t.equal(report.outcome, 'insecure')
    t.match(report.findings.find((f) => f.code === OTHER)?.message, /which deputy issued to another customer of the vendor/)
  })

  t.test('an ID deputy issued for another AWS account of the same customer: insecure, named as such', async (t) => {
    const { res, customer } = await register((id) => policy(vendor({ StringEquals: { 'sts:ExternalId': id } })))
    t.equal(res.statusCode, 201)
    const elsewhere = awsAccount()
    const sibling = await mintExternalId(app, customer.id, elsewhere)
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const arn = roleArn(account)
    aws.emulator.putRole({ arn, trustPolicy: policy(vendor({ StringEquals: { 'sts:ExternalId': [externalId.externalId, sibling.externalId] } })), permissions: [readSelf(arn)] })
    const report = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: arn } })).json<{ probe: Report }>().probe
    t.equal(report.outcome, 'insecure')
    const message = report.findings.find((f) => f.code === OTHER)?.message
    t.match(message, new RegExp(`for another AWS account of this customer \\(${elsewhere}\\)`))
    t.notMatch(message, /another customer/)
  })

  t.test('values deputy never issued (a listed string, a wildcard\'s witness): insecure, never called another customer\'s', async (t) => {
    for (const trust of [
      (id: string) => policy(vendor({ StringEquals: { 'sts:ExternalId': [id, 'partner-shared-id'] } })),
      (id: string) => policy(vendor({ StringLike: { 'sts:ExternalId': `${id.slice(0, 8)}*` } }))
    ]) {
      const { report } = await register(trust)
      t.equal(report.outcome, 'insecure')
      const witness = report.staticCheck?.witness?.externalId ?? ''
      const message = report.findings.find((f) => f.code === OTHER)?.message ?? ''
      t.ok(message.includes(JSON.stringify(witness)), `the message names the witness ${witness}`)
      t.match(message, /deputy never issued/)
      t.notMatch(message, /another customer/, 'and does not say another customer holds it')
    }
  })

  /** A connection rotated once (its role trusted both IDs for the move): the first ID is retired. */
  async function rotatedOnce (t: Test) {
    const customer = await createCustomer(app)
    const account = awsAccount()
    const first = await mintExternalId(app, customer.id, account)
    const arn = roleArn(account)
    aws.emulator.putRole({ arn, trustPolicy: policy(vendor({ StringEquals: { 'sts:ExternalId': first.externalId } })), permissions: [readSelf(arn)] })
    const connection = (await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: first.id, roleArn: arn } })).json<Connection>()
    const { successor } = (await call(app, 'POST', `/v1/external-ids/${first.id}/rotate`, { token: ADMIN_TOKEN })).json<{ successor: ExternalIdView }>()
    aws.emulator.putRole({ arn, trustPolicy: policy(vendor({ StringEquals: { 'sts:ExternalId': [successor.externalId, first.externalId] } })), permissions: [readSelf(arn)] })
    t.equal((await verify(connection.id)).json<Connection>().externalIdId, successor.id)
    return { connection, retired: first.externalId, current: successor.externalId, arn }
  }

  t.test('a retired ID of this account next to a wildcard: the wildcard still makes it insecure', async (t) => {
    const { connection, retired, current, arn } = await rotatedOnce(t)
    aws.emulator.putRole({
      arn,
      trustPolicy: policy(vendor({ StringEquals: { 'sts:ExternalId': [current, retired] } }), { Sid: 'Loose', ...vendor({ StringLike: { 'sts:ExternalId': 'partner-*' } }) }),
      permissions: [readSelf(arn)]
    })
    const view = (await verify(connection.id)).json<Connection>()
    t.equal(view.status, 'insecure')
    t.match(view.verification.staticCheck, { status: 'violation', witness: { externalId: /^partner-/ } })
    t.equal((await issue(connection.id)).status, 409, 'no issuance')
  })

  t.test('a retired ID the policy names only to refuse it: no finding', async (t) => {
    const { connection, retired, current, arn } = await rotatedOnce(t)
    aws.emulator.putRole({
      arn,
      trustPolicy: policy(vendor({ StringEquals: { 'sts:ExternalId': current } }), { Effect: 'Deny', Principal: { AWS: VENDOR_ARN }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': retired } } }),
      permissions: [readSelf(arn)]
    })
    const view = (await verify(connection.id)).json<Connection>()
    t.match(view, { status: 'active', verification: { outcome: 'pass' } })
    t.same(view.verification.findings, [], 'a refused retired ID is not reported')
  })
})
