// GET /v1/external-ids/{id}/onboarding, and the generator and the probe checking each other: the
// trust policy the kit hands out, loaded into the STS emulator, passes the confused-deputy probe
// when the role is registered through the API; the same policy loosened fails it. Also the
// `deputy onboarding template` command, in a child process.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli/main.js'
import { onboardingConfig } from '../../src/config.js'
import { policyDocumentProblems } from '../../src/iam/policy-document.js'
import { instantiateRoleTemplate, renderGenericTemplate } from '../../src/modules/onboarding/cloudformation.js'
import { roleSpecOf } from '../../src/modules/onboarding/onboarding.service.js'
import { parseQuickCreateUrl } from '../../src/modules/onboarding/quick-create.js'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { startTestAws, VENDOR_ARN } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'
import { spawnDeputy } from '../helpers/process.js'

const TEMPLATE_URL = 'https://vendor-templates.s3.eu-west-1.amazonaws.com/deputy/role.yaml'

interface Kit {
  externalIdId: string
  customerId: string
  externalId: string
  awsAccountId: string
  vendorPrincipalArn: string
  roleName: string
  roleArn: string
  maxSessionDuration: number
  trustPolicy: { Version: string, Statement: Array<{ Effect: string, Principal: { AWS: string }, Action: string[], Condition: Record<string, Record<string, unknown>> }> }
  permissions: { managedPolicyArns: string[], inlinePolicy: { name: string, document: object } | null, permissionsBoundaryArn: string | null }
  cloudFormation: { template: string, quickCreateUrl: string | null }
  terraform: string
  awsCli: string
  warnings: string[]
}

t.test('onboarding kit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deputy-onboarding-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const permissionsFile = join(dir, 'permissions.json')
  const permissions = {
    managedPolicyArns: ['arn:aws:iam::aws:policy/SecurityAudit'],
    statements: [{ Sid: 'ReadTags', Effect: 'Allow', Action: ['tag:GetResources'], Resource: '*' }]
  }
  await writeFile(permissionsFile, JSON.stringify(permissions))
  const aws = await startTestAws(t)
  const { app, database } = await buildTestApp(t, {
    ...aws.env,
    ONBOARDING_PERMISSIONS_FILE: permissionsFile,
    ONBOARDING_TEMPLATE_URL: TEMPLATE_URL,
    ONBOARDING_MAX_SESSION_DURATION: '7200',
    ONBOARDING_PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::111111111111:policy/VendorBoundary'
  })
  const customer = await createCustomer(app)
  const kitOf = (id: string, token = ADMIN_TOKEN) => call(app, 'GET', `/v1/external-ids/${id}/onboarding`, { token })

  async function freshKit (): Promise<Kit> {
    const externalId = await mintExternalId(app, customer.id, awsAccount())
    const res = await kitOf(externalId.id)
    if (res.statusCode !== 200) throw new Error(res.body)
    return res.json<Kit>()
  }
  const register = (kit: Kit, trustPolicy: object) => {
    aws.emulator.putRole({ arn: kit.roleArn, trustPolicy, maxSessionDuration: kit.maxSessionDuration })
    return call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: kit.externalIdId, roleArn: kit.roleArn } })
  }

  t.test('200: the kit for an active external ID, every document built from the configuration', async (t) => {
    const externalId = await mintExternalId(app, customer.id, awsAccount())
    const auditBefore = await database.prisma.auditEvent.count()
    const res = await kitOf(externalId.id)
    t.equal(res.statusCode, 200, res.statusCode === 200 ? 'the kit' : res.body)
    const kit = res.json<Kit>()
    t.match(kit, {
      externalIdId: externalId.id,
      customerId: customer.id,
      externalId: externalId.externalId,
      awsAccountId: externalId.awsAccountId,
      vendorPrincipalArn: VENDOR_ARN,
      roleName: 'DeputyAccess',
      roleArn: `arn:aws:iam::${externalId.awsAccountId}:role/DeputyAccess`,
      maxSessionDuration: 7200,
      permissions: {
        managedPolicyArns: permissions.managedPolicyArns,
        inlinePolicy: { name: 'DeputyPermissions', document: { Version: '2012-10-17', Statement: permissions.statements } },
        permissionsBoundaryArn: 'arn:aws:iam::111111111111:policy/VendorBoundary'
      },
      warnings: []
    })
    t.same(kit.trustPolicy, {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': externalId.externalId } } }]
    })
    t.same(policyDocumentProblems(kit.trustPolicy, 'trust'), [])
    t.same(policyDocumentProblems(kit.permissions.inlinePolicy?.document, 'identity'), [])
    const deployed = instantiateRoleTemplate(kit.cloudFormation.template)
    t.same(deployed.trustPolicy, kit.trustPolicy, 'the template creates the role with this trust policy')
    t.same({ arns: deployed.managedPolicyArns, boundary: deployed.permissionsBoundaryArn, max: deployed.maxSessionDuration }, { arns: permissions.managedPolicyArns, boundary: 'arn:aws:iam::111111111111:policy/VendorBoundary', max: 7200 })
    t.match(kit.terraform, `"sts:ExternalId" = "${externalId.externalId}"`)
    t.match(kit.awsCli, `"sts:ExternalId":"${externalId.externalId}"`)
    const link = parseQuickCreateUrl(kit.cloudFormation.quickCreateUrl ?? '')
    t.same(link, { host: 'console.aws.amazon.com', region: 'eu-west-1', route: '/stacks/quickcreate', params: { templateURL: TEMPLATE_URL, stackName: 'DeputyAccess', param_ExternalId: externalId.externalId } }, 'the region of the template\'s bucket, the ID round-trips')
    t.notMatch(kit.cloudFormation.quickCreateUrl ?? '', /dpt_|whsec_|X-Amz-|secret|token/i, 'nothing secret in the link')
    t.notOk(res.body.includes(ADMIN_TOKEN) || /dpt_/.test(res.body), 'no API token anywhere in the kit')
    t.equal(await database.prisma.auditEvent.count(), auditBefore, 'reading a kit writes nothing')
  })

  t.test('generator and probe: the kit\'s trust policy passes the confused-deputy probe', async (t) => {
    const kit = await freshKit()
    const res = await register(kit, kit.trustPolicy)
    t.equal(res.statusCode, 201, res.statusCode === 201 ? 'registered' : res.body)
    t.match(res.json(), { status: 'active', roleArn: kit.roleArn, verification: { outcome: 'pass' } })
  })

  t.test('generator and probe: the role as the CloudFormation template creates it passes too', async (t) => {
    const kit = await freshKit()
    const role = instantiateRoleTemplate(kit.cloudFormation.template)
    t.equal(role.roleName, kit.roleName)
    const res = await register(kit, role.trustPolicy)
    t.equal(res.statusCode, 201, res.statusCode === 201 ? 'registered' : res.body)
  })

  t.test('generator and probe: the same policy loosened fails the probe', async (t) => {
    const loosened: Array<[string, (kit: Kit) => object]> = [
      ['the condition removed', (kit) => ({ ...kit.trustPolicy, Statement: [{ ...kit.trustPolicy.Statement[0], Condition: undefined }] })],
      ['StringLike "*"', (kit) => ({ ...kit.trustPolicy, Statement: [{ ...kit.trustPolicy.Statement[0], Condition: { StringLike: { 'sts:ExternalId': '*' } } }] })],
      ['StringLike "?*" (any non-empty ID)', (kit) => ({ ...kit.trustPolicy, Statement: [{ ...kit.trustPolicy.Statement[0], Condition: { StringLike: { 'sts:ExternalId': '?*' } } }] })],
      ['StringNotEquals a wrong value', (kit) => ({ ...kit.trustPolicy, Statement: [{ ...kit.trustPolicy.Statement[0], Condition: { StringNotEquals: { 'sts:ExternalId': 'nothing' } } }] })]
    ]
    for (const [label, loosen] of loosened) {
      const kit = await freshKit()
      const res = await register(kit, loosen(kit))
      t.equal(res.statusCode, 422, `${label}: refused`)
      t.equal(res.json<{ code: string }>().code, 'role_trust_policy_insecure', `${label}: as insecure`)
    }
  })

  t.test('generator and probe: StringLike "<id>*" (the ID as a prefix)', async (t) => {
    const kit = await freshKit()
    const res = await register(kit, { ...kit.trustPolicy, Statement: [{ ...kit.trustPolicy.Statement[0], Condition: { StringLike: { 'sts:ExternalId': `${kit.externalId}*` } } }] })
    // The probe sends no ID, then a random UUID: neither matches "<id>*", so the prefix form
    // passes. It is not exploitable with deputy's IDs (every ID is a fixed-length random UUID, so
    // no other customer's ID starts with this one), but it is looser than the kit; the probe does
    // not tell the two apart. Recorded here so a stricter probe shows up as a change.
    t.equal(res.statusCode, 201, 'passes today: the probe does not detect a prefix wildcard')
  })

  t.test('two IDs (the rotation form) pass the probe with either ID registered', async (t) => {
    const kit = await freshKit()
    const other = await mintExternalId(app, customer.id, awsAccount())
    const both = { ...kit.trustPolicy, Statement: [{ ...kit.trustPolicy.Statement[0], Condition: { StringEquals: { 'sts:ExternalId': [kit.externalId, other.externalId] } } }] }
    t.equal((await register(kit, both)).statusCode, 201)
  })

  t.test('409 for a retired external ID', async (t) => {
    const externalId = await mintExternalId(app, customer.id, awsAccount())
    const retired = await call(app, 'POST', `/v1/external-ids/${externalId.id}/retire`, { token: ADMIN_TOKEN, body: { reason: 'onboarding test' } })
    t.equal(retired.statusCode, 200)
    const res = await kitOf(externalId.id)
    t.equal(res.statusCode, 409)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { code: 'external_id_not_active', status: 409 })
  })

  t.test('bound clients: their own customer\'s kit, 404 for another\'s', async (t) => {
    const other = await createCustomer(app)
    const mine = await mintExternalId(app, customer.id, awsAccount())
    const theirs = await mintExternalId(app, other.id, awsAccount())
    const bound = await createApiClient(app, ['external-ids:read'], customer.id)
    t.equal((await kitOf(mine.id, bound.token)).statusCode, 200)
    const res = await kitOf(theirs.id, bound.token)
    t.equal(res.statusCode, 404)
    t.match(res.json(), { code: 'not_found' })
    t.notOk(res.body.includes(theirs.externalId), 'nothing of the other customer\'s ID')
    const audited = await database.prisma.auditEvent.findFirst({ where: { action: 'access.denied', actorClientId: bound.id }, orderBy: { seq: 'desc' } })
    t.match(audited, { outcome: 'denied', resourceId: theirs.id })
  })

  t.test('401 without a token, 403 without external-ids:read, 400 for a malformed id', async (t) => {
    const externalId = await mintExternalId(app, customer.id, awsAccount())
    t.equal((await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`)).statusCode, 401)
    const client = await createApiClient(app, ['external-ids:write', 'connections:read'])
    const forbidden = await kitOf(externalId.id, client.token)
    t.equal(forbidden.statusCode, 403)
    t.match(forbidden.json(), { code: 'insufficient_scope', requiredScope: 'external-ids:read' })
    const bad = await kitOf('not-a-uuid')
    t.equal(bad.statusCode, 400)
    t.match(bad.json(), { code: 'validation_failed' })
  })

  t.test('the deputy onboarding template command prints the generic template', async (t) => {
    const env = { VENDOR_PRINCIPAL_ARN: VENDOR_ARN, ONBOARDING_PERMISSIONS_FILE: permissionsFile, ONBOARDING_TEMPLATE_URL: TEMPLATE_URL, LOG_LEVEL: 'silent', DEPUTY_DATA_DIR: join(dir, 'data') }
    // Child processes cost seconds here: the three run at once.
    const [printed, noVendor, misuse] = await Promise.all([
      spawnDeputy(['onboarding', 'template'], env),
      spawnDeputy(['onboarding', 'template'], { ...env, VENDOR_PRINCIPAL_ARN: '' }),
      spawnDeputy(['onboarding', 'templates'], env)
    ].map(async (deputy) => ({ ...(await deputy.exit), output: deputy.output() })))
    t.equal(printed?.code, 0, printed?.output ?? '')
    const expected = renderGenericTemplate(roleSpecOf(onboardingConfig(env), { vendorPrincipalArn: VENDOR_ARN, sourceIdentity: true }))
    t.equal(printed?.output, expected, 'exactly the generic template, nothing else on the output')
    const kit = await freshKit()
    t.same(instantiateRoleTemplate(printed?.output ?? '', { ExternalId: kit.externalId }).trustPolicy, kit.trustPolicy, 'with a customer\'s ID it creates the role of that customer\'s kit')
    t.equal(noVendor?.code, 2)
    t.match(noVendor?.output, /configuration error: VENDOR_PRINCIPAL_ARN: must be set/)
    t.equal(misuse?.code, 2)
    t.match(misuse?.output, /onboarding takes template/)

    // The same command in this process (child processes report no coverage).
    const captured = async (args: string[], extra: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> => {
      const all = { ...env, ONBOARDING_TEMPLATE_URL: '', ...extra }
      const saved = Object.fromEntries(Object.keys(all).map((key) => [key, process.env[key]]))
      Object.assign(process.env, all)
      let stdout = ''
      let stderr = ''
      const writes = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) }
      process.stdout.write = ((chunk: string | Uint8Array) => { stdout += chunk.toString(); return true }) as typeof process.stdout.write
      process.stderr.write = ((chunk: string | Uint8Array) => { stderr += chunk.toString(); return true }) as typeof process.stderr.write
      try {
        return { code: await main(args), stdout, stderr }
      } finally {
        process.stdout.write = writes.out
        process.stderr.write = writes.err
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) Reflect.deleteProperty(process.env, key)
          else process.env[key] = value
        }
      }
    }
    const inProcess = await captured(['onboarding', 'template'], {})
    t.equal(inProcess.code, 0)
    t.equal(inProcess.stdout, expected, 'the same template')
    t.match(inProcess.stderr, /deputy: warning: ONBOARDING_TEMPLATE_URL is not set/, 'warnings go to stderr, never into the template')
    const session = await captured(['onboarding', 'template'], { VENDOR_PRINCIPAL_ARN: 'arn:aws:sts::111111111111:assumed-role/deputy/worker' })
    t.equal(session.code, 2)
    t.match(session.stderr, /VENDOR_PRINCIPAL_ARN: the vendor principal must be an IAM role or user ARN/)
    t.equal(session.stdout, '')
  })
})

t.test('without AWS: 503 aws_not_configured; without a permissions file: a warning', async (t) => {
  const { app } = await buildTestApp(t, { LOG_LEVEL: 'warn' })
  const customer = await createCustomer(app)
  const externalId = await mintExternalId(app, customer.id, awsAccount())
  const res = await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'aws_not_configured' })
})

t.test('with AWS and no ONBOARDING_* settings: a role that grants nothing, and warnings saying so', async (t) => {
  const aws = await startTestAws(t)
  const { app, logs } = await buildTestApp(t, { ...aws.env, SOURCE_IDENTITY_ENABLED: 'false' })
  const customer = await createCustomer(app)
  const externalId = await mintExternalId(app, customer.id, awsAccount())
  const res = await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'the kit' : res.body)
  const kit = res.json<Kit>()
  t.same(kit.permissions, { managedPolicyArns: [], inlinePolicy: null, permissionsBoundaryArn: null })
  t.same(kit.trustPolicy.Statement[0]?.Action, ['sts:AssumeRole'], 'no sts:SetSourceIdentity when deputy sets none')
  t.equal(kit.cloudFormation.quickCreateUrl, null)
  t.equal(kit.maxSessionDuration, 3600)
  t.match(kit.warnings, [/ONBOARDING_PERMISSIONS_FILE is not set: the role .* grants no permissions/, /ONBOARDING_TEMPLATE_URL is not set/])
  t.ok(logs.some((line) => line.includes('ONBOARDING_PERMISSIONS_FILE is not set')), 'logged at start too')
  aws.emulator.putRole({ arn: kit.roleArn, trustPolicy: kit.trustPolicy })
  const registered = await call(app, 'POST', `/v1/customers/${customer.id}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: kit.roleArn } })
  t.equal(registered.statusCode, 201, 'the probe passes without source identity too')
})

t.test('deputy running as a role session named in VENDOR_PRINCIPAL_ARN: no kit, 503 onboarding_unavailable', async (t) => {
  const aws = await startTestAws(t)
  // deputy's credentials are a session of the vendor's role, and VENDOR_PRINCIPAL_ARN names that
  // session: deputy starts, but a trust policy naming one session would break with the next one.
  const vendorRole = 'arn:aws:iam::111111111111:role/deputy-vendor-role'
  aws.emulator.putRole({ arn: vendorRole, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR_ARN }, Action: 'sts:AssumeRole' }] } })
  const user = aws.emulator.principalFor(aws.keys.accessKeyId)
  if (user === undefined) throw new Error('no emulator user')
  const session = aws.emulator.assumeRole(user, { RoleArn: vendorRole, RoleSessionName: 'deputy-worker' })
  const saved = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY }
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: session.Credentials.AccessKeyId, AWS_SECRET_ACCESS_KEY: session.Credentials.SecretAccessKey, AWS_SESSION_TOKEN: session.Credentials.SessionToken })
  t.teardown(() => {
    Object.assign(process.env, saved)
    delete process.env.AWS_SESSION_TOKEN
  })
  const { app } = await buildTestApp(t, { ...aws.env, VENDOR_PRINCIPAL_ARN: session.AssumedRoleUser.Arn })
  const customer = await createCustomer(app)
  const externalId = await mintExternalId(app, customer.id, awsAccount())
  const res = await call(app, 'GET', `/v1/external-ids/${externalId.id}/onboarding`, { token: ADMIN_TOKEN })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'onboarding_unavailable', detail: /VENDOR_PRINCIPAL_ARN is a role session .*must trust the role itself/ })
})
