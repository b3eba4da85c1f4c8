// The onboarding kit's generators, without a database: every CloudFormation template passes
// cfn-lint (the real command) and reads back with the CloudFormation tags, every policy is valid
// IAM JSON, and the four forms (trust policy, CloudFormation, Terraform, AWS CLI) embed the same
// documents. Terraform is also checked by `terraform fmt` and `terraform console` where the
// machine has Terraform, and the AWS CLI commands by a shell that runs them against a stub `aws`.
/* eslint-disable no-template-curly-in-string -- IAM policy variables (${aws:username}) are what these strings test */
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { evaluateTrustPolicy, parseTrustPolicy } from '../../src/iam/trust-policy-evaluator.js'
import { grantsEverything, policyDocumentProblems, statementsProblems } from '../../src/iam/policy-document.js'
import { shellQuote } from '../../src/modules/onboarding/aws-cli.js'
import { CLOUDFORMATION_TAGS, instantiateRoleTemplate, parseCloudFormationYaml, renderGenericTemplate, TemplateError, type RoleSpec } from '../../src/modules/onboarding/cloudformation.js'
import { buildOnboardingKit, OnboardingInputError, type OnboardingKit, type OnboardingKitInput } from '../../src/modules/onboarding/onboarding-kit.js'
import { identityDecision } from '../../src/iam/identity-policy.js'
import { INLINE_POLICY_NAME, NO_PERMISSIONS, READ_TRUST_POLICY_NAME, readTrustPolicyDocument, type PermissionSet } from '../../src/modules/onboarding/permission-set.js'
import { parseQuickCreateUrl, parseS3TemplateUrl, quickCreateUrl, stackNameFor } from '../../src/modules/onboarding/quick-create.js'
import { hclString, hclValue } from '../../src/modules/onboarding/terraform.js'
import { findBlock, parseHcl } from '../helpers/hcl.js'

const VENDOR = 'arn:aws:iam::111111111111:role/vendor/deputy'
const ID = '6f1c9a2e-1b7d-4c3f-9a55-2d1e8b7c4a10'
const NEXT_ID = '0d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d'
const TEMPLATE_URL = 'https://vendor-templates.s3.eu-west-1.amazonaws.com/deputy/role v1.yaml'

// Statements that exercise the escaping of every format: policy variables (${...}, which HCL
// would interpolate), quotes, backslashes, a newline, YAML 1.1 booleans, numbers and booleans.
const TRICKY: PermissionSet = {
  managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::111111111111:policy/path/VendorExtra'],
  statements: [
    {
      Sid: 'ReadOwnPrefix',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:ListBucket'],
      Resource: ['arn:aws:s3:::bucket/${aws:username}/*', 'arn:aws:s3:::it\'s "quoted" \\ %{x}'],
      Condition: { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'yes', 'on', '2012-10-17'] }, StringLike: { 's3:prefix': 'two\nlines\t${x}' }, Bool: { 'aws:SecureTransport': true }, NumericLessThan: { 's3:max-keys': 10 } }
    },
    { Effect: 'Deny', NotAction: 'iam:*', NotResource: 'arn:aws:iam::*:role/keep' }
  ]
}

const base = (overrides: Partial<OnboardingKitInput> = {}): OnboardingKitInput => ({
  vendorPrincipalArn: VENDOR,
  externalIds: [ID],
  sourceIdentity: true,
  roleName: 'DeputyAccess',
  maxSessionDuration: 3600,
  permissions: NO_PERMISSIONS,
  region: 'eu-west-1',
  ...overrides
})

/** Every combination the brief names: one ID, two IDs, managed policies, inline statements, boundary. */
const VARIANTS: Array<[string, OnboardingKitInput]> = [
  ['one ID, no permissions', base()],
  ['two IDs (rotation)', base({ externalIds: [NEXT_ID, ID] })],
  ['managed policies only', base({ permissions: { managedPolicyArns: TRICKY.managedPolicyArns, statements: [] } })],
  ['inline statements only, no source identity', base({ sourceIdentity: false, permissions: { managedPolicyArns: [], statements: TRICKY.statements } })],
  ['everything: both kinds, boundary, 12 h sessions, two IDs, quick-create', base({
    externalIds: [NEXT_ID, ID],
    permissions: TRICKY,
    permissionsBoundaryArn: 'arn:aws:iam::111111111111:policy/VendorBoundary',
    maxSessionDuration: 43_200,
    templateUrl: TEMPLATE_URL,
    roleName: 'Vendor+Access@prod',
    tagSession: true
  })]
]

const roleOf = (input: OnboardingKitInput): RoleSpec => ({ vendorPrincipalArn: input.vendorPrincipalArn, sourceIdentity: input.sourceIdentity, tagSession: input.tagSession, roleName: input.roleName, maxSessionDuration: input.maxSessionDuration, permissions: input.permissions, permissionsBoundaryArn: input.permissionsBoundaryArn })

const GENERIC: Array<[string, string]> = [
  ['generic, no permissions', renderGenericTemplate(roleOf(base()))],
  ['generic, everything', renderGenericTemplate(roleOf(VARIANTS[4]?.[1] ?? base()))]
]

function run (command: string, args: string[], options: { cwd?: string, env?: Record<string, string>, input?: string } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}

const CFN_LINT = join(process.cwd(), 'node_modules', 'cfn-lint', 'lib', 'index.js')

async function cfnLint (dir: string, name: string, template: string): Promise<{ code: number | null, output: string }> {
  const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`)
  await writeFile(file, template)
  // --no-guess-parameters: a parameter without a default must be given, as CloudFormation asks.
  const declared = (parseCloudFormationYaml(template).Parameters ?? {}) as Record<string, { Default?: unknown }>
  const parameters = declared.ExternalId?.Default === undefined ? ['--parameters', `ExternalId=${ID}`] : []
  const { code, stdout, stderr } = await run(process.execPath, [CFN_LINT, 'validate', file, '--no-guess-parameters', ...parameters])
  return { code, output: stdout + stderr }
}

const kits: Array<[string, OnboardingKitInput, OnboardingKit]> = VARIANTS.map(([name, input]) => [name, input, buildOnboardingKit(input)])

t.test('cfn-lint: every generated template is valid, and cfn-lint does catch a broken one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deputy-cfn-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const templates: Array<[string, string]> = [...kits.map(([name, , kit]): [string, string] => [name, kit.cloudFormation.template]), ...GENERIC]
  // A real typo of a property, and a template whose Ref names nothing: both must fail.
  const typo = templates[0]?.[1].replace('MaxSessionDuration:', 'MaxSessionDurations:') ?? ''
  const dangling = templates[0]?.[1].replace('!Ref ExternalId', '!Ref ExternalID') ?? ''
  const [good, badTypo, badRef] = await Promise.all([
    Promise.all(templates.map(async ([name, template]) => [name, await cfnLint(dir, name, template)] as const)),
    cfnLint(dir, 'typo', typo),
    cfnLint(dir, 'dangling', dangling)
  ])
  for (const [name, result] of good) t.equal(result.code, 0, `${name}: cfn-lint passes\n${result.output}`)
  t.not(badTypo.code, 0, 'a misspelt role property fails cfn-lint')
  t.match(badTypo.output, /MaxSessionDurations is not a valid property of AWS::IAM::Role/)
  t.not(badRef.code, 0, 'a Ref to no parameter fails cfn-lint')
  t.comment(`cfn-lint ran on ${templates.length + 2} templates`)
})

t.test('sts:TagSession is granted exactly when deputy tags sessions, in every form of the kit', async (t) => {
  for (const [name, input, kit] of kits) {
    const tagged = input.tagSession === true
    const actions = kit.trustPolicy.Statement[0].Action
    t.equal(actions.includes('sts:TagSession'), tagged, `${name}: trust policy`)
    const role = instantiateRoleTemplate(kit.cloudFormation.template, {})
    t.equal(role.trustPolicy.Statement[0].Action.includes('sts:TagSession'), tagged, `${name}: CloudFormation`)
    t.equal(kit.terraform.includes('sts:TagSession'), tagged, `${name}: Terraform`)
    t.equal(kit.awsCli.includes('sts:TagSession'), tagged, `${name}: AWS CLI`)
  }
  t.ok(renderGenericTemplate(roleOf(VARIANTS[4]?.[1] ?? base())).includes('sts:TagSession'), 'the generic template too')
  t.notOk(renderGenericTemplate(roleOf(base())).includes('sts:TagSession'))
})

t.test('templates read back as YAML with the CloudFormation tags, the same under YAML 1.1 and 1.2', async (t) => {
  for (const [name, template] of [...kits.map(([name, , kit]): [string, string] => [name, kit.cloudFormation.template]), ...GENERIC]) {
    const parsed = parseCloudFormationYaml(template)
    t.same(parse(template, { customTags: CLOUDFORMATION_TAGS }), parsed, `${name}: YAML 1.2 reads the same document`)
    t.match(parsed, { AWSTemplateFormatVersion: '2010-09-09', Parameters: { ExternalId: { Type: 'String', MinLength: 36, MaxLength: 36, NoEcho: false } }, Outputs: { RoleArn: { Value: { 'Fn::GetAtt': ['Role', 'Arn'] } } } })
    const role = (parsed.Resources as Record<string, { Type: string, Properties: Record<string, unknown> }>).Role
    t.equal(role?.Type, 'AWS::IAM::Role')
    const document = role?.Properties.AssumeRolePolicyDocument as { Statement: Array<{ Condition: { StringEquals: Record<string, unknown> } }> }
    const condition = document.Statement[0]?.Condition.StringEquals['sts:ExternalId']
    t.ok(JSON.stringify(condition).includes('{"Ref":"ExternalId"}'), `${name}: the condition is the ExternalId parameter, not a copy of it`)
  }
})

t.test('the CloudFormation role, Terraform and the AWS CLI embed exactly the trust policy and the permissions', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deputy-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A stub `aws` that records its arguments: the shell, not a regex, decides what they are.
  const log = join(dir, 'calls.ndjson')
  await writeFile(join(dir, 'aws'), `#!${process.execPath}\nrequire('fs').appendFileSync(process.env.AWS_STUB_LOG, JSON.stringify(process.argv.slice(2)) + '\\n')\nif (process.argv[3] === process.env.AWS_STUB_FAIL) process.exit(254)\n`)
  await chmod(join(dir, 'aws'), 0o755)

  for (const [name, input, kit] of kits) {
    t.test(name, async (t) => {
      const { trustPolicy, permissions } = kit
      const inline = permissions.inlinePolicy

      t.same(policyDocumentProblems(trustPolicy, 'trust'), [], 'the trust policy is valid IAM JSON')
      t.doesNotThrow(() => parseTrustPolicy(trustPolicy), 'and the STS emulator reads it')
      if (inline !== null) t.same(policyDocumentProblems(inline.document, 'identity'), [], 'the inline policy is valid IAM JSON')
      t.same(permissions.managedPolicyArns, input.permissions.managedPolicyArns)
      t.equal(permissions.permissionsBoundaryArn, input.permissionsBoundaryArn ?? null)

      // CloudFormation: the role as created with the template's defaults (this customer's IDs).
      const account = { accountId: '222222222222', partition: 'aws' }
      const ownArn = `arn:aws:iam::222222222222:role/${input.roleName}`
      const readGrant = (resource: unknown) => ({ name: READ_TRUST_POLICY_NAME, document: readTrustPolicyDocument(resource) })
      const deployed = instantiateRoleTemplate(kit.cloudFormation.template, {}, account)
      t.same(deployed.trustPolicy, trustPolicy, 'CloudFormation: AssumeRolePolicyDocument with ExternalId substituted is the trust policy')
      t.same(deployed.inlinePolicies, [...(inline === null ? [] : [inline]), readGrant(ownArn)], 'CloudFormation: the inline policy, and iam:GetRole on the role\'s own ARN (Fn::Sub on its name)')
      const grants = deployed.inlinePolicies.filter((p) => p.name === READ_TRUST_POLICY_NAME).map((p) => p.document)
      t.equal(identityDecision(grants, 'iam:GetRole', ownArn), 'allow', 'the grant lets the role read itself')
      t.equal(identityDecision(grants, 'iam:GetRole', 'arn:aws:iam::222222222222:role/Other'), 'none', 'and no other role')
      t.equal(identityDecision(grants, 'iam:UpdateAssumeRolePolicy', ownArn), 'none', 'and nothing but GetRole')
      t.same(deployed.managedPolicyArns, input.permissions.managedPolicyArns, 'CloudFormation: the managed policies')
      t.equal(deployed.permissionsBoundaryArn, input.permissionsBoundaryArn)
      t.equal(deployed.maxSessionDuration, input.maxSessionDuration)
      t.equal(deployed.roleName, input.roleName)
      // The generic template with this kit's IDs as parameters creates the same role.
      const [current, previous] = input.externalIds
      const generic = instantiateRoleTemplate(renderGenericTemplate(roleOf(input)), { ExternalId: current ?? '', ...(previous === undefined ? {} : { PreviousExternalId: previous }) }, account)
      t.same(generic, deployed, 'the generic template with these parameters creates the same role')

      // Terraform: read back with the HCL reader; jsonencode's argument is the document.
      const blocks = parseHcl(kit.terraform)
      const role = findBlock(blocks, 'resource', 'aws_iam_role', 'deputy').attributes
      t.same(JSON.parse(role.assume_role_policy as string), trustPolicy, 'Terraform: assume_role_policy is the trust policy, the ID a literal')
      t.same({ name: role.name, max: role.max_session_duration, boundary: role.permissions_boundary }, { name: input.roleName, max: input.maxSessionDuration, boundary: input.permissionsBoundaryArn })
      const attachments = blocks.filter((b) => b.labels[0] === 'aws_iam_role_policy_attachment')
      t.same(attachments.map((b) => b.attributes.policy_arn), input.permissions.managedPolicyArns, 'Terraform: one attachment per managed policy')
      t.ok(attachments.every((b) => JSON.stringify(b.attributes.role) === '{"ref":"aws_iam_role.deputy.name"}'), 'attached to the role itself')
      const policies = blocks.filter((b) => b.labels[0] === 'aws_iam_role_policy')
      t.same(policies.map((b) => ({ name: b.attributes.name, document: JSON.parse(b.attributes.policy as string) as unknown })), [...(inline === null ? [] : [inline]), readGrant({ ref: 'aws_iam_role.deputy.arn' })], 'Terraform: the inline policy, and iam:GetRole on the role\'s own ARN')
      t.same(findBlock(blocks, 'output', 'role_arn').attributes.value, { ref: 'aws_iam_role.deputy.arn' })
      t.same(blocks.filter((b) => b.type === 'variable'), [], 'Terraform: no variable that could be left empty')
      t.notMatch(kit.terraform.split('\n').filter((line) => !line.startsWith('#')).join('\n'), /\bvar\./, 'and no reference to one')

      // AWS CLI: run in a real shell against the stub.
      await writeFile(log, '')
      const shell = await run('bash', ['-c', kit.awsCli], { env: { PATH: `${dir}:${process.env.PATH ?? ''}`, AWS_STUB_LOG: log } })
      t.equal(shell.code, 0, shell.stderr)
      const calls = (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as string[])
      const option = (call: string[] | undefined, flag: string): string | undefined => call?.includes(flag) === true ? call[call.indexOf(flag) + 1] : undefined
      if (input.externalIds.length > 1) {
        // A rotation: the role exists, only its trust policy changes.
        t.same(calls.map((c) => c.slice(0, 2)), [['iam', 'update-assume-role-policy']], 'AWS CLI: a rotation updates the trust policy and nothing else')
        t.same(JSON.parse(option(calls[0], '--policy-document') ?? 'null'), trustPolicy, 'AWS CLI: the two-ID trust policy, inline')
        t.equal(option(calls[0], '--role-name'), input.roleName)
        t.equal(kit.cloudFormation.quickCreateUrl, null, 'no quick-create link: the stack exists and is updated with the template')
        return
      }
      const create = calls[0]
      t.same(create?.slice(0, 2), ['iam', 'create-role'])
      t.same(JSON.parse(option(create, '--assume-role-policy-document') ?? 'null'), trustPolicy, 'AWS CLI: the trust policy, inline')
      t.equal(option(create, '--role-name'), input.roleName)
      t.equal(option(create, '--max-session-duration'), String(input.maxSessionDuration))
      t.equal(option(create, '--permissions-boundary'), input.permissionsBoundaryArn)
      t.same(calls.filter((c) => c[1] === 'attach-role-policy').map((c) => option(c, '--policy-arn')), input.permissions.managedPolicyArns, 'AWS CLI: attach-role-policy per managed policy')
      const put = calls.filter((c) => c[1] === 'put-role-policy')
      t.same(put.map((c) => ({ name: option(c, '--policy-name'), document: JSON.parse(option(c, '--policy-document') ?? 'null') as unknown })), [...(inline === null ? [] : [inline]), readGrant(`arn:aws:iam::*:role/${input.roleName}`)],
        'AWS CLI: put-role-policy with the inline policy, and iam:GetRole on the role (IAM reads roles of the caller\'s account only, so "*" for the account is this role)')
      t.equal(calls.length, 2 + input.permissions.managedPolicyArns.length + (inline === null ? 0 : 1), 'nothing else')
      t.match(buildOnboardingKit({ ...input, awsAccountId: '222222222222' }).awsCli, `"Resource":"${ownArn}"`, 'with the account known, the exact ARN')

      // create-role refused (a role of that name exists, with some other trust policy): nothing
      // after it runs, so no permission lands on a role the kit did not create.
      await writeFile(log, '')
      const refused = await run('bash', ['-c', kit.awsCli], { env: { PATH: `${dir}:${process.env.PATH ?? ''}`, AWS_STUB_LOG: log, AWS_STUB_FAIL: 'create-role' } })
      t.not(refused.code, 0)
      t.equal((await readFile(log, 'utf8')).split('\n').filter((l) => l !== '').length, 1, 'AWS CLI: nothing runs after a failed create-role')
    })
  }
})

t.test('the trust policy: the vendor principal, StringEquals the exact IDs, nothing optional', async (t) => {
  const [one, two, , noSource] = kits.map(([, , kit]) => kit.trustPolicy)
  t.same(one, {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEquals: { 'sts:ExternalId': ID } } }]
  })
  t.same(two?.Statement[0].Condition, { StringEquals: { 'sts:ExternalId': [NEXT_ID, ID] } }, 'during a rotation: both IDs, still StringEquals')
  t.same(noSource?.Statement[0].Action, ['sts:AssumeRole'], 'no sts:SetSourceIdentity when deputy sets no source identity')
  // What the policy means, by the emulator's evaluator.
  const ctx = (externalId?: string) => ({ principalArn: VENDOR, principalAccount: '111111111111', keys: { 'sts:ExternalId': externalId } })
  const actions = ['sts:AssumeRole', 'sts:SetSourceIdentity']
  t.ok(evaluateTrustPolicy(one ?? {}, actions, ctx(ID)).allowed, 'allowed with the ID')
  for (const [label, id] of [['without an ID', undefined], ['with another ID', NEXT_ID], ['with the ID and more', `${ID}x`], ['with the ID upper-cased', ID.toUpperCase()]] as const) {
    t.notOk(evaluateTrustPolicy(one ?? {}, actions, ctx(id)).allowed, `refused ${label}`)
  }
  t.notOk(evaluateTrustPolicy(one ?? {}, ['sts:AssumeRole'], { principalArn: 'arn:aws:iam::111111111111:user/someone-else', principalAccount: '111111111111', keys: { 'sts:ExternalId': ID } }).allowed, 'refused to another identity of the vendor\'s account')

  for (const [label, principal] of [['an account root', 'arn:aws:iam::111111111111:root'], ['an account ID', '111111111111'], ['everyone', '*'], ['a role session', 'arn:aws:sts::111111111111:assumed-role/deputy/session']] as const) {
    t.throws(() => buildOnboardingKit(base({ vendorPrincipalArn: principal })), OnboardingInputError, `refuses to trust ${label}`)
  }
  for (const ids of [[], [ID, NEXT_ID, ID], [ID, ID], [''], ['not-a-uuid'], [ID.toUpperCase()], ['6f1c9a2e-1b7d-1c3f-9a55-2d1e8b7c4a10']]) {
    t.throws(() => buildOnboardingKit(base({ externalIds: ids })), OnboardingInputError, `refuses external IDs ${JSON.stringify(ids)}`)
  }
  t.throws(() => buildOnboardingKit(base({ roleName: 'has space' })), OnboardingInputError)
  t.throws(() => buildOnboardingKit(base({ maxSessionDuration: 3599 })), OnboardingInputError)
})

t.test('CloudFormation refuses an empty or malformed ExternalId before creating anything', async (t) => {
  const perCustomer = kits[0]?.[2].cloudFormation.template ?? ''
  const generic = GENERIC[0]?.[1] ?? ''
  const refused: Array<[string, string, Record<string, string>, RegExp]> = [
    ['generic, no ExternalId', generic, {}, /\[ExternalId\] must have values/],
    ['generic, empty', generic, { ExternalId: '' }, /at least 36 characters/],
    ['generic, a wildcard of the right length', generic, { ExternalId: '*'.repeat(36) }, /must match pattern/],
    ['generic, upper case', generic, { ExternalId: ID.toUpperCase() }, /must match pattern/],
    ['generic, a bad PreviousExternalId', generic, { ExternalId: ID, PreviousExternalId: '*' }, /must match pattern/],
    ['per customer, emptied', perCustomer, { ExternalId: '' }, /at least 36 characters/],
    ['per customer, an unknown parameter', perCustomer, { Other: 'x' }, /do not exist/]
  ]
  for (const [label, template, parameters, message] of refused) {
    t.throws(() => instantiateRoleTemplate(template, parameters), TemplateError, label)
    t.throws(() => instantiateRoleTemplate(template, parameters), { message }, `${label}: ${String(message)}`)
  }
  const parsed = parseCloudFormationYaml(generic) as { Parameters: Record<string, { AllowedPattern: string, Default?: string }> }
  t.equal(parsed.Parameters.ExternalId?.Default, undefined, 'the generic template has no default ExternalId')
  t.equal(parsed.Parameters.PreviousExternalId?.Default, '', 'PreviousExternalId may stay empty')
  t.same(instantiateRoleTemplate(generic, { ExternalId: ID }).trustPolicy, kits[0]?.[2].trustPolicy, 'an empty PreviousExternalId drops out of the condition; ExternalId stays required')
})

t.test('quick-create link: the console format, every value encoded, the ID round-trips, nothing secret', async (t) => {
  // A rotation's kit has no link (the stack exists: it is updated with the template), but the
  // link format carries both IDs for a generic template published with PreviousExternalId.
  t.equal(kits[4]?.[2].cloudFormation.quickCreateUrl, null, 'no quick-create link in a rotation\'s kit')
  const link = quickCreateUrl({ templateUrl: TEMPLATE_URL, region: 'eu-west-1', partition: 'aws', stackName: 'Vendor-Access-prod', externalIds: [NEXT_ID, ID] })
  t.match(link, /^https:\/\/console\.aws\.amazon\.com\/cloudformation\/home\?region=eu-west-1#\/stacks\/quickcreate\?templateURL=/)
  const parsed = parseQuickCreateUrl(link)
  t.same(parsed, {
    host: 'console.aws.amazon.com',
    region: 'eu-west-1',
    route: '/stacks/quickcreate',
    params: { templateURL: TEMPLATE_URL, stackName: 'Vendor-Access-prod', param_ExternalId: NEXT_ID, param_PreviousExternalId: ID }
  }, 'parsed back (URL, then the fragment\'s query), every value is what went in')
  t.notMatch(link.split('#')[1] ?? '', /[ "<>\\^`{|}]/, 'no unencoded character in the fragment')
  t.notMatch(link, /dpt_|whsec_|X-Amz-|Signature|Credential|token|secret|password/i, 'no token- or secret-shaped value')
  t.same(Object.keys(parsed.params).filter((k) => k.startsWith('param_')), ['param_ExternalId', 'param_PreviousExternalId'], 'only the external IDs as parameters')
  t.equal(kits[0]?.[2].cloudFormation.quickCreateUrl, null, 'no link without a published template')

  // Characters that need encoding survive the round trip.
  const odd = quickCreateUrl({ templateUrl: 'https://b.s3.us-east-1.amazonaws.com/a&b=c#d?e%20f+g', region: 'us-east-1', partition: 'aws', stackName: 'x', externalIds: [ID] })
  t.equal(parseQuickCreateUrl(odd).params.templateURL, 'https://b.s3.us-east-1.amazonaws.com/a&b=c#d?e%20f+g')
  t.equal(parseQuickCreateUrl(odd).params.param_ExternalId, ID)
  t.match(quickCreateUrl({ templateUrl: TEMPLATE_URL, region: 'us-gov-west-1', partition: 'aws-us-gov', stackName: 'x', externalIds: [ID] }), /^https:\/\/console\.amazonaws-us-gov\.com\//, 'GovCloud has its own console')
  t.match(quickCreateUrl({ templateUrl: TEMPLATE_URL, region: 'cn-north-1', partition: 'aws-cn', stackName: 'x', externalIds: [ID] }), /^https:\/\/console\.amazonaws\.cn\//, 'and China its own')
  t.equal(stackNameFor('_Deputy.Access+1'), 'Deputy-Access-1', 'stack names keep to letters, digits and hyphens, a letter first')
})

t.test('S3 template URLs: both S3 forms, nothing else', async (t) => {
  t.same(parseS3TemplateUrl('https://my-bucket.s3.eu-west-1.amazonaws.com/t/role.yaml'), { bucket: 'my-bucket', region: 'eu-west-1', key: 't/role.yaml' })
  t.same(parseS3TemplateUrl('https://s3.us-east-2.amazonaws.com/my-bucket/role.yaml?versionId=abc'), { bucket: 'my-bucket', region: 'us-east-2', key: 'role.yaml' })
  const refused: Array<[string, RegExp]> = [
    ['http://my-bucket.s3.eu-west-1.amazonaws.com/role.yaml', /https/],
    ['https://example.com/role.yaml', /must point at S3/],
    ['https://my-bucket.s3.eu-west-1.amazonaws.com.evil.com/role.yaml', /must point at S3/],
    ['https://my-bucket.s3.eu-west-1.amazonaws.com/', /no template file/],
    ['https://s3.eu-west-1.amazonaws.com/my-bucket', /no template file/],
    ['https://my-bucket.s3.eu-west-1.amazonaws.com/role.yaml?X-Amz-Signature=abc&X-Amz-Credential=AKIA', /presigned/],
    ['https://user:pw@my-bucket.s3.eu-west-1.amazonaws.com/role.yaml', /user or password/],
    ['https://my-bucket.s3.eu-west-1.amazonaws.com/role.yaml?a=b', /versionId/],
    ['not a url', /not a URL/]
  ]
  for (const [url, message] of refused) t.match(parseS3TemplateUrl(url), message, url)
})

t.test('the IAM grammar check catches what IAM refuses', async (t) => {
  const ok = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }
  const cases: Array<[string, unknown, RegExp]> = [
    ['no statements', [], /non-empty list/],
    ['Effect', [{ ...ok, Effect: 'allow' }], /Effect must be/],
    ['no Action', [{ Effect: 'Allow', Resource: '*' }], /exactly one of Action or NotAction/],
    ['Action and NotAction', [{ ...ok, NotAction: 's3:*' }], /exactly one of Action or NotAction/],
    ['no Resource', [{ Effect: 'Allow', Action: 's3:GetObject' }], /exactly one of Resource or NotResource/],
    ['a Principal in an identity policy', [{ ...ok, Principal: '*' }], /cannot have: "Principal"/],
    ['a malformed action', [{ ...ok, Action: 's3 GetObject' }], /is not an action/],
    ['an empty action list', [{ ...ok, Action: [] }], /empty list/],
    ['a resource that is no ARN', [{ ...ok, Resource: 'bucket/*' }], /is not a resource/],
    ['a Sid with a dash', [{ ...ok, Sid: 'a-b' }], /letters and digits/],
    ['two equal Sids', [{ ...ok, Sid: 'A' }, { ...ok, Sid: 'A' }], /used twice/],
    ['an unknown condition operator', [{ ...ok, Condition: { StringEqual: { 'aws:x': 'y' } } }], /not an IAM condition operator/],
    ['an empty condition block', [{ ...ok, Condition: { StringEquals: {} } }], /object of condition keys/],
    ['a nested condition value', [{ ...ok, Condition: { StringEquals: { 'aws:x': { a: 1 } } } }], /strings, numbers or booleans/]
  ]
  for (const [label, statements, message] of cases) t.match(statementsProblems(statements, 'identity').join('; '), message, label)
  t.same(statementsProblems([{ ...ok, Condition: { 'ForAnyValue:StringLikeIfExists': { 'aws:TagKeys': ['a*'] }, Null: { 'aws:x': 'true' }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }], 'identity'), [], 'set operators, IfExists, Null and IpAddress are IAM operators')
  t.match(policyDocumentProblems({ Version: '2008-10-17', Statement: [ok] }, 'identity').join(), /Version must be "2012-10-17"/)
  t.match(policyDocumentProblems({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { AWS: 'x' }, Resource: '*' }] }, 'trust').join(), /cannot have: "Resource"/)
  t.ok(grantsEverything({ Effect: 'Allow', Action: '*', Resource: '*' }))
  t.ok(grantsEverything({ Effect: 'Allow', Action: ['s3:GetObject', '*:*'], Resource: 'arn:*:*:*:*:*' }))
  t.ok(grantsEverything({ Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::x' }))
  t.notOk(grantsEverything({ Effect: 'Deny', Action: '*', Resource: '*' }))
  t.notOk(grantsEverything({ Effect: 'Allow', Action: 's3:*', Resource: '*' }))
})

t.test('HCL strings: policy variables and template sequences stay literal', async (t) => {
  t.equal(hclString('${aws:username}'), '"$${aws:username}"')
  t.equal(hclString('%{if x}'), '"%%{if x}"')
  t.equal(hclString('a"b\\c\nd\te\u0001'), '"a\\"b\\\\c\\nd\\te\\u0001"')
  t.equal(shellQuote("it's"), "'it'\\''s'")
})

const terraform = await run('terraform', ['version']).catch(() => undefined)
const noTerraform = terraform?.code === 0 ? false : 'terraform is not installed; the HCL reader above checked the same documents'

t.test('Terraform: terraform fmt and terraform console agree (where Terraform is installed)', { skip: noTerraform }, async (t) => {
  for (const [name, , kit] of kits) {
    const dir = await mkdtemp(join(tmpdir(), 'deputy-tf-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    await writeFile(join(dir, 'main.tf'), kit.terraform)
    const fmt = await run('terraform', ['fmt', '-check', '-diff', dir])
    t.equal(fmt.code, 0, `${name}: terraform fmt finds nothing to change${fmt.code === 0 ? '' : `\n${fmt.stdout}${fmt.stderr}`}`)
    // terraform console needs no provider for a file of locals: evaluate both jsonencode() calls.
    const role = findBlock(parseHcl(kit.terraform), 'resource', 'aws_iam_role', 'deputy')
    const expression = /assume_role_policy = (jsonencode\(\{[\s\S]*?\n {2}\}\))\n/.exec(kit.terraform)?.[1] ?? ''
    const evalDir = await mkdtemp(join(tmpdir(), 'deputy-tf-eval-'))
    t.teardown(() => rm(evalDir, { recursive: true, force: true }))
    await writeFile(join(evalDir, 'main.tf'), `locals {\n  doc = ${expression}\n}\n`)
    const evaluated = await run('terraform', ['console'], { cwd: evalDir, input: 'local.doc\n' })
    t.equal(evaluated.code, 0, `${name}: terraform console evaluates it${evaluated.code === 0 ? '' : `\n${evaluated.stderr}`}`)
    t.same(JSON.parse(JSON.parse(evaluated.stdout.trim()) as string), kit.trustPolicy, `${name}: Terraform's own jsonencode gives the trust policy`)
    t.same(JSON.parse(role.attributes.assume_role_policy as string), kit.trustPolicy)
  }
})

t.test('an inline policy name and the permission sets used here are what IAM accepts', async (t) => {
  t.match(INLINE_POLICY_NAME, /^[\w+=,.@-]{1,128}$/)
  t.same(statementsProblems(TRICKY.statements, 'identity'), [])
})

t.test('instantiateRoleTemplate follows CloudFormation\'s rules, and refuses what it cannot resolve', async (t) => {
  const template = (body: string): string => `AWSTemplateFormatVersion: "2010-09-09"\n${body}`
  const role = (properties: string, resources = ''): string => `Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n${properties}\n${resources}`
  const trust = (value: string): string => `      RoleName: R\n      AssumeRolePolicyDocument:\n        Version: "2012-10-17"\n        Statement:\n          - Effect: Allow\n            Principal: { AWS: "${VENDOR}" }\n            Action: sts:AssumeRole\n            Condition: { StringEquals: { "sts:ExternalId": ${value} } }`
  const conditional = template(`Parameters:
  Mode:
    Type: String
    AllowedValues: [one, both]
    Default: one
  A:
    Type: String
    MaxLength: 36
    Default: ${ID}
Conditions:
  Both: !Equals [!Ref Mode, both]
  One: !Not [!Condition Both]
  Either: !Or [!Condition Both, !Condition One]
  Neither: !And [!Condition Both, !Condition One]
${role(trust(`!If [Neither, "never", !If [Both, [!Ref A, "${NEXT_ID}"], !If [Either, !Ref A, "never"]]]`))}`)
  t.same(instantiateRoleTemplate(conditional).trustPolicy.Statement[0].Condition, { StringEquals: { 'sts:ExternalId': ID } }, 'Fn::If, Fn::Equals, Fn::Not, Fn::Or, Fn::And and Condition resolve')
  t.same(instantiateRoleTemplate(conditional, { Mode: 'both' }).trustPolicy.Statement[0].Condition, { StringEquals: { 'sts:ExternalId': [ID, NEXT_ID] } })
  t.equal(instantiateRoleTemplate(conditional).maxSessionDuration, 3600, 'MaxSessionDuration defaults to an hour, as in IAM')
  const refused: Array<[string, string, Record<string, string>, RegExp]> = [
    ['not a mapping', '- a\n- b', {}, /not a YAML mapping/],
    ['a value outside AllowedValues', conditional, { Mode: 'all' }, /AllowedValues/],
    ['a value over MaxLength', conditional, { A: 'x'.repeat(37) }, /at most 36 characters/],
    ['a Number parameter', template(`Parameters:\n  N:\n    Type: Number\n    Default: 1\n${role(trust('"x"'))}`), {}, /only String parameters/],
    ['no role', template('Resources: {}'), {}, /exactly one AWS::IAM::Role, not 0/],
    ['two roles', template(role(trust('"x"'), `  Other:\n    Type: AWS::IAM::Role\n    Properties:\n${trust('"x"')}`)), {}, /not 2/],
    ['no trust policy', template(role('      RoleName: R')), {}, /no AssumeRolePolicyDocument/],
    ['a Ref to nothing', template(role(trust('!Ref Missing'))), {}, /Unresolved reference Missing/],
    ['an unknown condition', template(role(trust('!If [Missing, "a", "b"]'))), {}, /Unresolved condition Missing/],
    ['a condition that is not a boolean', template(`Conditions:\n  C: "yes"\n${role(trust('!If [C, "a", "b"]'))}`), {}, /not a boolean/],
    ['a malformed Fn::If', template(role(trust('!If [C, "a"]'))), {}, /Fn::If takes/],
    ['an unsupported function', template(role(trust('!Join ["", [a, b]]'))), {}, /Fn::Join is not supported/],
    ['Fn::Sub of something that is neither a parameter nor a pseudo parameter', template(role(trust('!Sub "${Nope}"'))), {}, /Unresolved reference \$\{Nope\} in Fn::Sub/]
  ]
  for (const [label, text, parameters, message] of refused) t.throws(() => instantiateRoleTemplate(text, parameters), { name: 'TemplateError', message }, label)
})

t.test('edge cases of the grammar check, the link and the HCL writer', async (t) => {
  const ok = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }
  const problems = (statements: unknown): string => statementsProblems(statements, 'identity').join('; ')
  t.match(problems([{ ...ok, Condition: { 'Foo:StringEquals': { 'aws:x': 'y' } } }]), /not an IAM condition operator/, 'only ForAnyValue: and ForAllValues: prefixes')
  t.match(problems([{ ...ok, Condition: 'aws:x' }]), /Condition must be an object/)
  t.match(problems([{ ...ok, Condition: { StringEquals: { 'a key': 'y' } } }]), /condition key "a key" is not valid/)
  t.match(problems([{ ...ok, Condition: { StringEquals: { 'aws:x': [] } } }]), /empty list of values/)
  t.match(problems(['not a statement']), /statement 0 is not an object/)
  const trust = (principal: unknown): string => statementsProblems([{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: principal }], 'trust').join('; ')
  t.equal(trust('*'), '', 'Principal "*" is grammatical (if unwise)')
  t.equal(trust({ Service: ['ec2.amazonaws.com'] }), '')
  t.match(trust('arn:aws:iam::1:root'), /must be "\*" or an object/)
  t.match(trust({ Group: 'x' }), /type "Group" is not AWS, Service, Federated or CanonicalUser/)
  t.match(policyDocumentProblems('{}', 'identity').join(), /must be a JSON object/)
  t.match(policyDocumentProblems({ Version: '2012-10-17', Statement: ok, Extra: 1 }, 'identity').join(), /only Version, Id and Statement, not "Extra"/)
  t.same(policyDocumentProblems({ Version: '2012-10-17', Statement: ok }, 'identity'), [], 'a single statement object is allowed, as in IAM')

  const longUrl = `https://bkt.s3.us-east-1.amazonaws.com/${'k'.repeat(1000)}.yaml`
  const cases: Array<[string, RegExp]> = [
    ['https://bkt.s3.us-east-1.amazonaws.com/t.yaml#x', /#fragment/],
    [longUrl, /1024 characters/],
    ['https://bkt.s3.us-east-1.amazonaws.com/%E0%A4%A', /malformed path/],
    ['https://s3.us-east-1.amazonaws.com/Not_A_Bucket/t.yaml', /does not name an S3 bucket/]
  ]
  for (const [url, message] of cases) t.match(parseS3TemplateUrl(url), message, url.slice(0, 80))
  t.throws(() => quickCreateUrl({ templateUrl: TEMPLATE_URL, region: 'us-east-1', partition: 'aws-iso', stackName: 'x', externalIds: [ID] }), /no console for partition aws-iso/)
  t.same(parseQuickCreateUrl('https://console.aws.amazon.com/cloudformation/home#/stacks'), { host: 'console.aws.amazon.com', region: null, route: '/stacks', params: {} })
  t.equal(stackNameFor('123'), 'deputy-access', 'a role name without letters still gives a stack name')

  t.equal(hclValue({}, ''), '{}')
  t.equal(hclValue(null, ''), 'null')
  t.equal(hclValue('\r', ''), '"\\r"')
  t.throws(() => hclValue(undefined, ''), /cannot write undefined as HCL/)
})
