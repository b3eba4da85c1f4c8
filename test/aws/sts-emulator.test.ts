// The STS emulator speaks STS as the real SDK expects: SigV4, the query protocol, AWS's limits,
// its error shapes, and faults on demand. Driven here only through @aws-sdk/client-sts and
// plain HTTP, as deputy and the sandbox reach it.
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts'
import t from 'tap'
import { createStsEmulator } from '../../src/aws/sts-emulator/emulator.js'
import { startStsEmulator } from '../../src/aws/sts-emulator/server.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const ROLE = 'arn:aws:iam::222222222222:role/path/to/DeputyAccess'
const ID = 'c0ffee00-1b7d-4c3f-9a55-2d1e8b7c4a10'

t.test('STS emulator', async (t) => {
  let clock = new Date()
  const running = await startStsEmulator({ emulator: createStsEmulator({ now: () => clock }) })
  t.teardown(() => running.close())
  const { emulator } = running
  const keys = emulator.createUser(VENDOR)
  emulator.putRole({ arn: ROLE, maxSessionDuration: 7200, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'], Condition: { StringEquals: { 'sts:ExternalId': ID } } }] } })
  const client = (credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }) =>
    new STSClient({ region: 'us-east-1', endpoint: running.url, credentials, maxAttempts: 1 })
  const sts = client(keys)
  const assume = (input: Partial<AssumeRoleCommandInput>, c = sts) => c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'test', ExternalId: ID, ...input }))
  const failure = async (promise: Promise<unknown>) => promise.then(() => ({ name: 'none', message: '', status: 200 }), (e: { name: string, message: string, $metadata?: { httpStatusCode?: number } }) => ({ name: e.name, message: e.message, status: e.$metadata?.httpStatusCode }))

  t.test('GetCallerIdentity and AssumeRole with a valid signature', async (t) => {
    const me = await sts.send(new GetCallerIdentityCommand({}))
    t.match(me, { Arn: VENDOR, Account: '111111111111' })
    t.match(me.UserId, /^AIDA/)
    const out = await assume({ DurationSeconds: 900, SourceIdentity: 'deputy.test' })
    t.match(out.Credentials?.AccessKeyId, /^ASIA[A-Z2-7]{16}$/)
    t.equal(out.AssumedRoleUser?.Arn, 'arn:aws:sts::222222222222:assumed-role/DeputyAccess/test')
    t.equal(out.SourceIdentity, 'deputy.test')
    t.equal(Math.round(((out.Credentials?.Expiration?.getTime() ?? 0) - clock.getTime()) / 1000), 900)
    t.match(out.$metadata.requestId, /^[0-9a-f-]{36}$/)
    const session = client({ accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken ?? '' })
    const who = await session.send(new GetCallerIdentityCommand({}))
    t.equal(who.Arn, out.AssumedRoleUser?.Arn)
    t.match(who.UserId, /^AROA[A-Z2-7]{17}:test$/)
  })

  t.test('signatures and keys are checked', async (t) => {
    t.match(await failure(client({ accessKeyId: keys.accessKeyId, secretAccessKey: 'wrong' }).send(new GetCallerIdentityCommand({}))), { name: 'SignatureDoesNotMatch', status: 403 })
    t.match(await failure(client({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' }).send(new GetCallerIdentityCommand({}))), { name: 'InvalidClientTokenId', status: 403 })
    const out = await assume({})
    const noToken = client({ accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '' })
    t.match(await failure(noToken.send(new GetCallerIdentityCommand({}))), { name: 'InvalidClientTokenId' }, 'session keys need their token')
    const unsigned = await fetch(running.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetCallerIdentity&Version=2011-06-15' })
    t.equal(unsigned.status, 403)
    t.match(await unsigned.text(), /<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/)
    // A session token past its expiration is refused.
    const session = client({ accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken ?? '' })
    clock = new Date(clock.getTime() + 3601 * 1000)
    const expired = await failure(session.send(new GetCallerIdentityCommand({})))
    clock = new Date()
    t.match(expired, { name: /ExpiredToken|SignatureDoesNotMatch/ })
  })

  t.test('AWS parameter limits', async (t) => {
    t.match(await failure(assume({ RoleSessionName: 'has space' })), { name: 'ValidationError', status: 400, message: /roleSessionName/ })
    t.match(await failure(assume({ RoleSessionName: 'x'.repeat(65) })), { name: 'ValidationError' })
    t.match(await failure(assume({ ExternalId: 'a' })), { name: 'ValidationError', message: /externalId/ })
    t.match(await failure(assume({ ExternalId: 'x'.repeat(1225) })), { name: 'ValidationError' })
    t.match(await failure(assume({ ExternalId: 'bad#chars' })), { name: 'ValidationError' })
    t.match(await failure(assume({ DurationSeconds: 899 })), { name: 'ValidationError', message: /durationSeconds/ })
    t.match(await failure(assume({ DurationSeconds: 7201 })), { name: 'ValidationError', message: /MaxSessionDuration/ })
    t.equal((await assume({ DurationSeconds: 7200 })).AssumedRoleUser?.Arn?.endsWith('/test'), true, 'up to the role\'s MaxSessionDuration')
    const huge = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 40 }, (_, i) => ({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::b${i}/*` })) })
    t.match(await failure(assume({ Policy: huge })), { name: /ValidationError|PackedPolicyTooLarge/ })
    t.match(await failure(assume({ Policy: '{not json' })), { name: 'MalformedPolicyDocument' })
    t.match(await failure(assume({ PolicyArns: Array.from({ length: 11 }, (_, i) => ({ arn: `arn:aws:iam::aws:policy/P${i}` })) })), { name: 'ValidationError', message: /policyArns/ })
    t.match(await failure(assume({ SourceIdentity: 'x' })), { name: 'ValidationError', message: /sourceIdentity/ })
  })

  t.test('session tags: AWS\'s limits, kept on the session, and sts:TagSession required', async (t) => {
    const tags = [{ Key: 'deputy:purpose', Value: 'nightly inventory' }, { Key: 'Ünïcode', Value: '' }]
    const out = await assume({ Tags: tags })
    t.same(emulator.principalFor(out.Credentials?.AccessKeyId ?? '')?.tags, [{ key: 'deputy:purpose', value: 'nightly inventory' }, { key: 'Ünïcode', value: '' }], 'the issued session keeps its tags')
    t.ok((out.PackedPolicySize ?? 0) > 0, 'PackedPolicySize counts the tags')
    t.match(await failure(assume({ Tags: [{ Key: 'bad;key', Value: 'v' }] })), { name: 'ValidationError', status: 400, message: /tags\.1\.member\.key/ })
    t.match(await failure(assume({ Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] })), { name: 'ValidationError' })
    t.match(await failure(assume({ Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] })), { name: 'ValidationError', message: /tags\.1\.member\.value/ })
    t.match(await failure(assume({ Tags: [{ Key: 'k', Value: 'a;b' }] })), { name: 'ValidationError' })
    t.match(await failure(assume({ Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) })), { name: 'ValidationError', message: /tags/ })
    t.match(await failure(assume({ Tags: [{ Key: 'Team', Value: 'a' }, { Key: 'team', Value: 'b' }] })), { name: 'InvalidParameterValue', message: /case insensitive/ })
    t.match(await failure(assume({ Tags: Array.from({ length: 10 }, (_, i) => ({ Key: `key${i}`, Value: 'v'.repeat(250) })) })), { name: 'PackedPolicyTooLarge' }, 'tags count towards the packed size')
    const untagged = 'arn:aws:iam::222222222222:role/NoTagSession'
    emulator.putRole({ arn: untagged, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': ID } } }] } })
    t.ok((await assume({ RoleArn: untagged })).Credentials, 'allowed without tags')
    t.match(await failure(assume({ RoleArn: untagged, Tags: tags })), { name: 'AccessDenied', status: 403, message: `User: ${VENDOR} is not authorized to perform: sts:TagSession on resource: ${untagged}` })
  })

  t.test('role chaining is capped at one hour', async (t) => {
    const vendorRole = 'arn:aws:iam::111111111111:role/VendorRole'
    emulator.putRole({ arn: vendorRole, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole' }] } })
    const hop = await sts.send(new AssumeRoleCommand({ RoleArn: vendorRole, RoleSessionName: 'hop' }))
    const chained = client({ accessKeyId: hop.Credentials?.AccessKeyId ?? '', secretAccessKey: hop.Credentials?.SecretAccessKey ?? '', sessionToken: hop.Credentials?.SessionToken ?? '' })
    t.match(await failure(assume({ DurationSeconds: 3601 }, chained)), { name: 'ValidationError', message: /role chaining/ })
    t.ok((await assume({ DurationSeconds: 3600 }, chained)).Credentials, 'the account-root principal trusts the chained session, up to an hour')
  })

  t.test('denials look like AWS\'s', async (t) => {
    t.match(await failure(assume({ ExternalId: 'wrong-id' })), { name: 'AccessDenied', status: 403, message: `User: ${VENDOR} is not authorized to perform: sts:AssumeRole on resource: ${ROLE}` })
    t.match(await failure(assume({ RoleArn: 'arn:aws:iam::222222222222:role/Missing' })), { name: 'AccessDenied' })
    t.match(await failure(assume({ Tags: [{ Key: 'team', Value: 'x' }] })), { name: 'none' }, 'TagSession allowed here')
  })

  t.test('faults on demand: throttling, 5xx, latency, dropped connections', async (t) => {
    emulator.injectFault({ kind: 'throttle', count: 1 })
    t.match(await failure(sts.send(new GetCallerIdentityCommand({}))), { name: 'Throttling', status: 400, message: 'Rate exceeded' })
    emulator.injectFault({ kind: 'server_error', count: 1, action: 'AssumeRole' })
    t.match(await failure(sts.send(new GetCallerIdentityCommand({}))), { name: 'none' }, 'a fault for AssumeRole leaves other actions alone')
    t.match(await failure(assume({})), { name: 'InternalFailure', status: 500 })
    emulator.injectFault({ kind: 'unavailable', count: 1 })
    t.match(await failure(assume({})), { name: 'ServiceUnavailable', status: 503 })
    emulator.injectFault({ kind: 'latency', count: 1, latencyMs: 300 })
    const started = Date.now()
    await sts.send(new GetCallerIdentityCommand({}))
    t.ok(Date.now() - started >= 280, 'latency added')
    emulator.injectFault({ kind: 'drop', count: 1 })
    t.not((await failure(sts.send(new GetCallerIdentityCommand({})))).name, 'none', 'a dropped connection fails the call')
    t.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, VENDOR, 'faults are spent')
  })

  t.test('faults for a time (storms), on a share of calls, hung connections; bad faults refused', async (t) => {
    t.teardown(() => emulator.clearFaults())
    const admin = (body: unknown) => fetch(`${running.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify(body) })
    t.equal((await admin({ kind: 'throttle', action: 'AssumeRole', durationMs: 1000 })).status, 201)
    for (let i = 0; i < 3; i++) t.match(await failure(assume({})), { name: 'Throttling' }, 'every call within the window')
    clock = new Date(clock.getTime() + 1001)
    t.match(await failure(assume({})), { name: 'none' }, 'none after it')

    emulator.injectFault({ kind: 'server_error', probability: 0.5, count: 1000 })
    const outcomes = await Promise.all(Array.from({ length: 40 }, async () => (await failure(sts.send(new GetCallerIdentityCommand({})))).name))
    emulator.clearFaults()
    t.ok(outcomes.includes('InternalFailure') && outcomes.includes('none'), `about half the calls fail (${outcomes.filter((o) => o !== 'none').length} of 40)`)

    await admin({ kind: 'hang', count: 1 })
    const hung = await fetch(running.url, { method: 'POST', body: 'Action=GetCallerIdentity&Version=2011-06-15', signal: AbortSignal.timeout(300) }).then(() => 'answered', (error: Error) => error.name)
    t.equal(hung, 'TimeoutError', 'a hung call is never answered')
    t.equal(emulator.calls().at(-1)?.outcome, 'hung')
    t.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, VENDOR, 'the next call is answered')

    for (const bad of [{ kind: 'meltdown', count: 1 }, { kind: 'throttle' }, { kind: 'throttle', count: -1 }, { kind: 'throttle', count: 1, probability: 2 }, { kind: 'throttle', count: 1, action: 'DeleteRole' }]) {
      const res = await admin(bad)
      t.equal(res.status, 400, JSON.stringify(bad))
      t.match(await res.json(), { error: /kind|count|probability|action/ })
    }
    t.throws(() => emulator.injectFault({ kind: 'throttle' }), /give count, durationMs or both/)
  })

  t.test('records calls, and the admin interface drives it over HTTP', async (t) => {
    await fetch(`${running.url}/_emulator/calls`, { method: 'DELETE' })
    await assume({ RoleSessionName: 'recorded', DurationSeconds: 900 })
    const calls = await (await fetch(`${running.url}/_emulator/calls`)).json() as Array<{ action: string, params: Record<string, string>, outcome: string, callerArn: string }>
    t.match(calls, [{ action: 'AssumeRole', outcome: 'ok', callerArn: VENDOR, params: { RoleArn: ROLE, RoleSessionName: 'recorded', ExternalId: ID, DurationSeconds: '900' } }])
    t.notOk(JSON.stringify(calls).includes(keys.secretAccessKey), 'no secrets in the record')

    const user = await (await fetch(`${running.url}/_emulator/users`, { method: 'POST', body: JSON.stringify({ arn: 'arn:aws:iam::333333333333:user/sandbox' }) })).json() as { accessKeyId: string, secretAccessKey: string }
    const role = 'arn:aws:iam::444444444444:role/SandboxRole'
    const put = await fetch(`${running.url}/_emulator/roles`, { method: 'PUT', body: JSON.stringify({ arn: role, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '333333333333' }, Action: 'sts:AssumeRole' }] } }) })
    t.equal(put.status, 200)
    const out = await client(user).send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'sandbox' }))
    t.ok(out.Credentials)
    await fetch(`${running.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ kind: 'throttle', count: 1 }) })
    t.match(await failure(client(user).send(new GetCallerIdentityCommand({}))), { name: 'Throttling' })
    t.equal((await fetch(`${running.url}/_emulator/roles?arn=${encodeURIComponent(role)}`, { method: 'DELETE' })).status, 200)
    t.match(await failure(client(user).send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'sandbox' }))), { name: 'AccessDenied' })
    t.equal((await fetch(`${running.url}/_emulator/nothing`)).status, 404)
  })
})
