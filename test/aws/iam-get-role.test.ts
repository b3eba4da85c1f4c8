// IAM GetRole in the emulator, reached the way deputy reaches IAM (a SigV4-signed query request
// from sts-gateway.ts): the trust policy comes back exactly as stored (URL-encoded in the XML, as
// IAM sends it), and only to a session whose role grants iam:GetRole on itself and whose session
// policy allows it too.
import t from 'tap'
import { startStsEmulator } from '../../src/aws/sts-emulator/server.js'
import { createStsGateway, type TemporaryCredentials } from '../../src/aws/sts-gateway.js'
import { roleArn } from '../helpers/aws.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const ROLE = 'arn:aws:iam::222222222222:role/team/DeputyAccess'
// Characters that URL-encoding and XML escaping change: the document must survive both.
const TRUST = { Version: '2012-10-17', Statement: [{ Sid: 'Vendor', Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole', Condition: { StringLike: { 'sts:ExternalId': ['a+b=c/*', 'x y&z<w>"%'] } } }] }
const readSelf = (resource: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: resource }] })
const SESSION_POLICY = JSON.stringify(readSelf(ROLE))

t.test('GetRole through the signed IAM query API', async (t) => {
  const running = await startStsEmulator()
  t.teardown(() => running.close())
  const credentials = running.emulator.createUser(VENDOR)
  const gateway = createStsGateway({ region: 'eu-west-1', timeoutMs: 2000, endpoint: running.url, credentials })
  t.teardown(() => gateway.destroy())

  async function session (permissions: object[], policy: string | null = SESSION_POLICY, arn = ROLE): Promise<TemporaryCredentials> {
    running.emulator.putRole({ arn, trustPolicy: TRUST, permissions })
    const assumed = await gateway.assumeRole({ roleArn: arn, sessionName: 'probe', externalId: 'a+b=c/x', durationSeconds: 900, policy: policy ?? undefined }, { retryBudgetMs: 0 })
    if (!assumed.ok) throw new Error(JSON.stringify(assumed.failure))
    return assumed.value.credentials
  }

  await t.test('a role that grants iam:GetRole on itself reads its own trust policy, byte for byte', async (t) => {
    running.emulator.clearCalls()
    const read = await gateway.getRole(await session([readSelf(ROLE)]), ROLE, { retryBudgetMs: 0 })
    t.ok(read.ok)
    if (!read.ok) return
    t.same(JSON.parse(read.value.trustPolicy), TRUST)
    t.equal(read.value.arn, ROLE)
    t.match(read.requestId, /^[0-9a-f-]{36}$/)
    const call = running.emulator.calls().find((c) => c.action === 'GetRole')
    t.match(call, { outcome: 'ok', params: { RoleName: 'DeputyAccess' }, callerArn: /assumed-role\/DeputyAccess\/probe$/ }, 'recorded as an IAM call by the role\'s session')
  })

  await t.test('the AWS managed way of granting it (a wildcard in the resource) works too', async (t) => {
    const read = await gateway.getRole(await session([readSelf('arn:aws:iam::222222222222:role/*')]), ROLE, { retryBudgetMs: 0 })
    t.ok(read.ok)
  })

  const denied: Array<[string, object[], string, RegExp]> = [
    ['no identity policy', [], SESSION_POLICY, /no identity-based policy allows the iam:GetRole action/],
    ['a grant on another role only', [readSelf(roleArn('222222222222', 'Other'))], SESSION_POLICY, /no identity-based policy/],
    ['a grant of another action', [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:ListRoles', Resource: '*' }] }], SESSION_POLICY, /no identity-based policy/],
    ['an explicit Deny beside the grant', [readSelf(ROLE), { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:*', Resource: '*' }] }], SESSION_POLICY, /explicit deny/],
    ['the probe\'s deny-all session policy', [readSelf(ROLE)], JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }), /explicit deny/],
    ['a session policy that does not allow it', [readSelf(ROLE)], JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }), /no session policy allows/]
  ]
  for (const [name, permissions, policy, message] of denied) {
    await t.test(`AccessDenied: ${name}`, async (t) => {
      const read = await gateway.getRole(await session(permissions, policy), ROLE, { retryBudgetMs: 0 })
      t.match(read, { ok: false, failure: { kind: 'denied', code: 'AccessDenied', message } })
    })
  }

  await t.test('without a session policy the role\'s own grant decides', async (t) => {
    t.ok((await gateway.getRole(await session([readSelf(ROLE)], null), ROLE, { retryBudgetMs: 0 })).ok)
  })

  await t.test('an IAM user (no policies here) is refused; a missing role is NoSuchEntity once allowed', async (t) => {
    const asUser = await gateway.getRole({ ...credentials, sessionToken: '', expiration: new Date() }, ROLE, { retryBudgetMs: 0 })
    t.match(asUser, { ok: false, failure: { kind: 'denied' } })
    const creds = await session([readSelf('*')], null)
    t.match(await gateway.getRole(creds, roleArn('222222222222', 'Missing'), { retryBudgetMs: 0 }), { ok: false, failure: { kind: 'rejected', code: 'NoSuchEntity', message: 'The role with name Missing cannot be found.' } })
  })

  await t.test('signed for STS instead of IAM: refused as AWS refuses it', async (t) => {
    const creds = await session([readSelf(ROLE)])
    const res = await fetch(running.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`, 'x-amz-security-token': creds.sessionToken }, body: 'Action=GetRole&RoleName=DeputyAccess&Version=2010-05-08' })
    t.equal(res.status, 403)
    t.match(await res.text(), /<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/">.*SignatureDoesNotMatch.*scoped to correct service: &apos;iam&apos;/)
  })

  await t.test('faults: GetRole is affected only by faults that name it, and throttling is retried', async (t) => {
    const creds = await session([readSelf(ROLE)])
    running.emulator.injectFault({ kind: 'server_error', count: 1 })
    t.ok((await gateway.getRole(creds, ROLE, { retryBudgetMs: 0 })).ok, 'an STS fault does not touch IAM')
    running.emulator.clearFaults()
    running.emulator.injectFault({ kind: 'throttle', action: 'GetRole', count: 1 })
    const retried = await gateway.getRole(creds, ROLE, { retryBudgetMs: 3000 })
    t.match(retried, { ok: true, attempts: 2 })
  })
})
