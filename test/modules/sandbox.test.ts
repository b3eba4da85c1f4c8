// The sandbox in-process: when it runs (configuration), what /readyz says, the sandbox-only
// stacks route (CloudFormation as an emulated account applies it, and what it refuses), that
// deputy reaches the emulator with an explicit address and keys whatever the environment says,
// and that an app without a sandbox serves no such route. The process itself (banner, token
// printed once, production configuration) is test/sandbox.test.ts; the README's walkthrough is
// test/readme-walkthrough.test.ts.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { loadConfig, SANDBOX_CUSTOMER_AWS_ACCOUNT_ID, SANDBOX_VENDOR_PRINCIPAL_ARN } from '../../src/config.js'
import { renderGenericTemplate } from '../../src/modules/onboarding/cloudformation.js'
import { NO_PERMISSIONS } from '../../src/modules/onboarding/permission-set.js'
import { claimSandboxDataDir, SANDBOX_MARKER } from '../../src/modules/sandbox/sandbox.js'
import { ADMIN_TOKEN, assertResponseMatchesSpec, buildTestApp, call } from '../helpers/app.js'
import { buildSandboxApp } from '../helpers/sandbox-app.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

// What the sandbox must ignore: an AWS configuration in the environment (here one that leads
// nowhere). Each test file is its own process, so this belongs to this file alone.
Object.assign(process.env, { AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENTKEY00', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret', AWS_PROFILE: 'no-such-profile' })

const STACKS = (account: string): string => `/v1/sandbox/accounts/${account}/stacks`

/** The sandbox route is not in openapi.yaml, so it is injected without the spec check of call(). */
const applyStack = (app: FastifyInstance, account: string, body: unknown, token: string | null = ADMIN_TOKEN): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: STACKS(account), headers: token === null ? {} : { authorization: `Bearer ${token}` }, payload: body as Record<string, unknown> })

t.test('configuration: the sandbox is the embedded default and nothing else', async (t) => {
  t.same(loadConfig({}).sandbox, {
    vendorPrincipalArn: SANDBOX_VENDOR_PRINCIPAL_ARN,
    customerAwsAccountId: SANDBOX_CUSTOMER_AWS_ACCOUNT_ID,
    aws: { ...loadConfig({ VENDOR_PRINCIPAL_ARN: SANDBOX_VENDOR_PRINCIPAL_ARN }).aws, probePropagationWindowMs: 0 }
  }, 'emulated vendor and account; STS settings as for AWS, with no IAM propagation to wait for')
  t.equal(loadConfig({}).aws, undefined, 'no real AWS configuration')
  t.equal(loadConfig({ DEPUTY_SANDBOX: 'true' }).sandbox?.vendorPrincipalArn, SANDBOX_VENDOR_PRINCIPAL_ARN)
  t.match(loadConfig({ STS_TIMEOUT_MS: '700', PROBE_PROPAGATION_WINDOW_MS: '5' }).sandbox?.aws, { stsTimeoutMs: 700, probePropagationWindowMs: 5 }, 'the STS variables apply')
  t.equal(loadConfig({ DATABASE_URL: 'postgresql://u@db/deputy' }).sandbox, undefined, 'DATABASE_URL: no sandbox')
  t.equal(loadConfig({ VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/deputy' }).sandbox, undefined, 'VENDOR_PRINCIPAL_ARN: no sandbox')
  t.equal(loadConfig({ DEPUTY_SANDBOX: 'false' }).sandbox, undefined, 'DEPUTY_SANDBOX=false: the embedded database without AWS')
  t.equal(loadConfig({ DEPUTY_SANDBOX: '', DATABASE_URL: 'postgresql://u@db/deputy' }).sandbox, undefined)
  t.throws(() => loadConfig({ DEPUTY_SANDBOX: 'true', DATABASE_URL: 'postgresql://u@db/deputy' }), { name: 'ConfigError', variable: 'DEPUTY_SANDBOX', message: /DATABASE_URL is set: the sandbox .* never runs with production configuration/ })
  t.throws(() => loadConfig({ DEPUTY_SANDBOX: 'true', DATABASE_URL: 'postgresql://u@db/deputy', VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/deputy' }), { variable: 'DEPUTY_SANDBOX', message: /DATABASE_URL and VENDOR_PRINCIPAL_ARN are set/ })
  t.throws(() => loadConfig({ DEPUTY_SANDBOX: 'maybe' }), { variable: 'DEPUTY_SANDBOX', message: /true or false/ })
})

t.test('the sandbox never runs with production configuration', async (t) => {
  // An empty secret, a production NODE_ENV or webhook endpoints mean a deployment, not a laptop.
  for (const env of [{ VENDOR_PRINCIPAL_ARN: '' }, { NODE_ENV: 'production' }, { WEBHOOK_ENDPOINTS: '[]' }]) {
    t.equal(loadConfig({ DEPUTY_DATA_DIR: '/data', ...env }).sandbox, undefined, JSON.stringify(env))
    t.throws(() => loadConfig({ DEPUTY_SANDBOX: 'true', ...env }), { variable: 'DEPUTY_SANDBOX', message: /never runs with production configuration/ }, `${JSON.stringify(env)} with DEPUTY_SANDBOX=true`)
  }
})

t.test('the sandbox refuses a data directory it did not create', async (t) => {
  const fresh = join(await mkdtemp(join(tmpdir(), 'deputy-sandbox-dir-')), 'data')
  t.teardown(() => rm(dirname(fresh), { recursive: true, force: true }))
  await claimSandboxDataDir(fresh)
  t.ok((await readdir(fresh)).includes(SANDBOX_MARKER), 'a new directory is marked as the sandbox\'s')
  await claimSandboxDataDir(fresh)
  t.pass('and reused at the next start')
  const real = await mkdtemp(join(tmpdir(), 'deputy-real-data-'))
  t.teardown(() => rm(real, { recursive: true, force: true }))
  await writeFile(join(real, 'PG_VERSION'), '17\n') // what an existing embedded database holds
  await t.rejects(claimSandboxDataDir(real), { name: 'StartupError', message: /holds a database the sandbox did not create/ })
  t.same(await readdir(real), ['PG_VERSION'], 'and leaves it untouched')
})

t.test('an app without a sandbox serves no sandbox route, and /readyz says nothing of one', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await applyStack(app, SANDBOX_CUSTOMER_AWS_ACCOUNT_ID, { template: 'x' })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'route_not_found')
  t.same((await call(app, 'GET', '/readyz')).json(), { status: 'ok' })
  t.equal((await call(app, 'GET', `/v1/customers/${(await createCustomer(app)).id}/connections`, { token: ADMIN_TOKEN })).statusCode, 200)
  const committed = await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')
  t.notMatch(committed, '/v1/sandbox/', 'openapi.yaml, the contract of every deployment, leaves the sandbox route out')
})

t.test('in the sandbox', async (t) => {
  const { app, sandbox, logs } = await buildSandboxApp(t, { DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN })
  const customer = await createCustomer(app)

  t.test('/readyz says AWS is emulated (and matches openapi.yaml)', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    assertResponseMatchesSpec(res)
    t.same(res.json(), { status: 'ok', aws: 'emulated', sandbox: { vendorPrincipalArn: SANDBOX_VENDOR_PRINCIPAL_ARN, customerAwsAccountId: SANDBOX_CUSTOMER_AWS_ACCOUNT_ID } })
  })

  t.test('DEPUTY_BOOTSTRAP_ADMIN_TOKEN given: that token is the admin, and the banner prints no token', async (t) => {
    t.equal((await call(app, 'GET', '/v1/api-clients', { token: ADMIN_TOKEN })).statusCode, 200)
    const banner = sandbox.banner({ url: 'http://127.0.0.1:3000', dataDir: '/tmp/deputy', bootstrapTokenGiven: true })
    t.notMatch(banner, /dpt_/)
    t.match(banner, /the DEPUTY_BOOTSTRAP_ADMIN_TOKEN you chose[\s\S]*export DEPUTY=http:\/\/127\.0\.0\.1:3000 DEPUTY_TOKEN=<that token>/)
  })

  t.test('deputy reaches the emulator with its own address and keys, whatever AWS_* the environment holds', async (t) => {
    const identity = sandbox.emulator.calls().find((c) => c.action === 'GetCallerIdentity')
    t.match(identity, { outcome: 'ok', callerArn: SANDBOX_VENDOR_PRINCIPAL_ARN, accessKeyId: sandbox.connection.credentials.accessKeyId })
    t.equal(process.env.AWS_ENDPOINT_URL_STS, 'http://127.0.0.1:1', 'the environment is left as it was')
    t.ok(logs.some((line) => line.includes('sandbox: AWS is emulated')), 'the log says AWS is emulated')
    t.notOk(logs.some((line) => line.includes(sandbox.connection.credentials.secretAccessKey)), 'the emulated secret key is in no log line')
  })

  t.test('the kit\'s template, applied: 201 with the role ARN, and the role passes the probe', async (t) => {
    const externalId = await mintExternalId(app, customer.id, SANDBOX_CUSTOMER_AWS_ACCOUNT_ID)
    const kit = (await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })).json<{ roleArn: string, trustPolicy: object, cloudFormation: { template: string } }>()
    const res = await applyStack(app, SANDBOX_CUSTOMER_AWS_ACCOUNT_ID, { template: kit.cloudFormation.template })
    t.equal(res.statusCode, 201, res.body)
    t.same(res.json(), { awsAccountId: SANDBOX_CUSTOMER_AWS_ACCOUNT_ID, roleName: 'DeputyAccess', roleArn: kit.roleArn, maxSessionDuration: 3600, outputs: { RoleArn: kit.roleArn } })
    t.same(JSON.parse(sandbox.emulator.getRole(kit.roleArn)?.trustPolicy ?? 'null'), kit.trustPolicy, 'the role has the kit\'s trust policy')
    const registered = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: kit.roleArn } })
    t.equal(registered.statusCode, 201, registered.body)
    t.match(registered.json(), { status: 'active', verification: { outcome: 'pass' } })
    const issued = await call(app, 'POST', `/v1/connections/${registered.json<{ id: string }>().id}/credentials`, { token: ADMIN_TOKEN, body: { purpose: 'sandbox test' } })
    t.equal(issued.statusCode, 201, issued.body)
    t.match(issued.json(), { credentials: { accessKeyId: /^ASIA/ }, assumedRoleArn: `arn:aws:sts::${SANDBOX_CUSTOMER_AWS_ACCOUNT_ID}:assumed-role/DeputyAccess/` })
  })

  t.test('create or update: the rotation\'s kit replaces the trust policy; parameters are taken', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const generic = renderGenericTemplate({ vendorPrincipalArn: SANDBOX_VENDOR_PRINCIPAL_ARN, sourceIdentity: true, roleName: 'Renamed', maxSessionDuration: 7200, permissions: NO_PERMISSIONS })
    const first = await applyStack(app, account, { template: generic, parameters: { ExternalId: externalId.externalId } })
    t.equal(first.statusCode, 201, first.body)
    t.match(first.json(), { roleArn: `arn:aws:iam::${account}:role/Renamed`, maxSessionDuration: 7200 })
    const roleId = sandbox.emulator.getRole(first.json<{ roleArn: string }>().roleArn)?.roleId
    const rotated = await call(app, 'POST', `/v1/external-ids/${externalId.id}/rotate`, { token: ADMIN_TOKEN })
    t.equal(rotated.statusCode, 201, rotated.body)
    const { onboarding } = rotated.json<{ onboarding: { cloudFormation: { template: string }, trustPolicy: object } }>()
    t.equal((await applyStack(app, account, { template: onboarding.cloudFormation.template })).statusCode, 201)
    const role = sandbox.emulator.getRole(`arn:aws:iam::${account}:role/DeputyAccess`)
    t.same(JSON.parse(role?.trustPolicy ?? 'null'), onboarding.trustPolicy, 'both IDs accepted')
    t.equal(sandbox.emulator.getRole(`arn:aws:iam::${account}:role/Renamed`)?.roleId, roleId, 'the first role is untouched')
  })

  t.test('what CloudFormation refuses: 422 template_invalid, and no role', async (t) => {
    const account = awsAccount()
    const externalId = await mintExternalId(app, customer.id, account)
    const kit = (await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })).json<{ cloudFormation: { template: string } }>()
    const template = kit.cloudFormation.template
    const generic = renderGenericTemplate({ vendorPrincipalArn: SANDBOX_VENDOR_PRINCIPAL_ARN, sourceIdentity: true, roleName: 'DeputyAccess', maxSessionDuration: 3600, permissions: NO_PERMISSIONS })
    const cases: Array<[string, unknown, RegExp]> = [
      ['an empty ExternalId', { template, parameters: { ExternalId: '' } }, /Parameter 'ExternalId' must contain at least 36 characters/],
      ['a malformed ExternalId', { template, parameters: { ExternalId: externalId.externalId.toUpperCase() } }, /Parameter 'ExternalId' must match pattern/],
      ['the generic template without an ExternalId', { template: generic }, /Parameters: \[ExternalId\] must have values/],
      ['an unknown parameter', { template, parameters: { Other: 'x' } }, /Parameters: \[Other\] do not exist in the template/],
      ['not YAML', { template: 'Resources: [unclosed' }, /not valid YAML/],
      ['not a mapping', { template: '- a list' }, /not a YAML mapping/],
      ['no role', { template: 'Resources: {}' }, /exactly one AWS::IAM::Role, not 0/],
      ['two roles', { template: template.replace(/^Resources:\n/m, 'Resources:\n  Other:\n    Type: AWS::IAM::Role\n    Properties: {}\n') }, /exactly one AWS::IAM::Role, not 2/],
      ['a dangling Ref', { template: template.replace('!Ref ExternalId', '!Ref Missing') }, /Unresolved reference Missing/],
      ['a trust policy IAM refuses', { template: template.replace('Effect: Allow', 'Effect: Maybe') }, /MalformedPolicyDocument: AssumeRolePolicyDocument: /],
      ['a bad role name', { template: template.replace('RoleName: DeputyAccess', 'RoleName: "no spaces allowed"') }, /RoleName must be/],
      ['a MaxSessionDuration IAM refuses', { template: template.replace('MaxSessionDuration: 3600', 'MaxSessionDuration: 60') }, /MaxSessionDuration must be 3600-43200/],
      ['a function it does not resolve', { template: template.replace('!Ref ExternalId', '!Join ["", [!Ref ExternalId]]') }, /Fn::Join is not supported/]
    ]
    for (const [label, body, detail] of cases) {
      const res = await applyStack(app, account, body)
      t.equal(res.statusCode, 422, `${label}: ${res.body}`)
      t.match(res.headers['content-type'], 'application/problem+json')
      t.match(res.json(), { status: 422, code: 'template_invalid', detail }, label)
    }
    t.equal(sandbox.emulator.getRole(`arn:aws:iam::${account}:role/DeputyAccess`), undefined, 'no role was created')
  })

  t.test('400 for a request that is not a template; 401 without a token; 403 without admin', async (t) => {
    const account = awsAccount()
    for (const [label, body] of [['no template', {}], ['an empty template', { template: '' }], ['a parameter name CloudFormation refuses', { template: 'x', parameters: { 'Bad-Name': 'x' } }], ['a parameter that is not a string', { template: 'x', parameters: { ExternalId: 1 } }], ['an unknown field', { template: 'x', stackName: 'y' }]] as const) {
      const res = await applyStack(app, account, body)
      t.equal(res.statusCode, 400, label)
      t.equal(res.json().code, 'validation_failed', label)
    }
    t.equal((await applyStack(app, 'not-an-account', { template: 'x' })).statusCode, 400, 'an account id that is not 12 digits')
    t.equal((await applyStack(app, account, { template: 'x' }, null)).statusCode, 401)
    const writer = await createApiClient(app, ['external-ids:write', 'connections:write'])
    const refused = await applyStack(app, account, { template: 'x' }, writer.token)
    t.equal(refused.statusCode, 403)
    t.equal(refused.json().code, 'insufficient_scope')
  })

  t.test('the sandbox\'s own /openapi.json documents the route; openapi.yaml does not', async (t) => {
    const document = app.swagger() as { paths: Record<string, unknown> }
    t.ok(document.paths['/v1/sandbox/accounts/{awsAccountId}/stacks'], 'served by the sandbox, documented by it')
  })
})

t.test('the sandbox\'s admin token: kept for the banner alone, handed over once, never logged', async (t) => {
  const { app, sandbox, logs } = await buildSandboxApp(t)
  const banner = sandbox.banner({ url: 'http://127.0.0.1:3000', dataDir: '/tmp/deputy', bootstrapTokenGiven: false })
  const token = /export DEPUTY=http:\/\/127\.0\.0\.1:3000 DEPUTY_TOKEN=(dpt_[\w-]{43})$/m.exec(banner)?.[1]
  t.ok(token, 'the banner carries the export line with the token')
  t.equal((await call(app, 'GET', '/v1/api-clients', { token })).statusCode, 200, 'it is an admin token')
  t.notOk(logs.some((line) => token !== undefined && line.includes(token)), 'in no log line')
  t.match(logs.join(''), /sandbox: created an admin client; its token is printed once in the banner, never logged/)
  const again = sandbox.banner({ url: 'http://127.0.0.1:3000', dataDir: '/tmp/deputy', bootstrapTokenGiven: false })
  t.notMatch(again, /dpt_/, 'a second banner has no token')
  t.match(again, /An admin client exists[\s\S]*DEPUTY_DATA_DIR=\/tmp\/deputy npm run deputy -- api-clients create --name me --scopes admin/)
  const given = sandbox.banner({ url: 'http://127.0.0.1:3000', dataDir: '/tmp/deputy', bootstrapTokenGiven: true })
  t.match(given, /the DEPUTY_BOOTSTRAP_ADMIN_TOKEN you chose/)
  t.match(banner, /AWS is EMULATED[\s\S]*No call goes to AWS and nothing reaches a real AWS account[\s\S]*123456789012/)
})
