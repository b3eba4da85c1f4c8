// The onboarding kit's configuration is validated at start, and each bad value names its variable:
// the permission set file (IAM grammar, admin access, IAM's size and quota limits), the role's
// name, session length and boundary, and the S3 template URL of quick-create links.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { NO_PERMISSIONS } from '../src/modules/onboarding/permission-set.js'

const VENDOR = 'arn:aws:iam::111111111111:role/deputy'

t.test('onboarding configuration', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deputy-onboarding-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  let files = 0
  /** A permissions file holding `content` (JSON unless a string is given). */
  const file = async (content: unknown): Promise<string> => {
    const path = join(dir, `permissions-${++files}.json`)
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content))
    return path
  }
  const ok = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }
  const withFile = async (content: unknown, env: Record<string, string> = {}) => loadConfig({ VENDOR_PRINCIPAL_ARN: VENDOR, ONBOARDING_PERMISSIONS_FILE: await file(content), ...env })

  t.test('defaults: a role named DeputyAccess that grants nothing, with warnings that say so', async (t) => {
    const { onboarding } = loadConfig({})
    t.same(onboarding.permissions, NO_PERMISSIONS)
    t.equal(onboarding.permissionsFile, undefined)
    t.equal(onboarding.roleName, 'DeputyAccess')
    t.equal(onboarding.maxSessionDuration, 3600)
    t.equal(onboarding.permissionsBoundaryArn, undefined)
    t.equal(onboarding.templateUrl, undefined)
    t.equal(onboarding.region, 'us-east-1')
    t.match(onboarding.warnings, [/ONBOARDING_PERMISSIONS_FILE is not set: the role trusts the vendor but grants no permissions/, /ONBOARDING_TEMPLATE_URL is not set/])
  })

  t.test('every setting', async (t) => {
    const permissions = { managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::111111111111:policy/team/Extra'], statements: [ok] }
    const { onboarding } = await withFile(permissions, {
      ONBOARDING_ROLE_NAME: 'Vendor+Access@prod',
      ONBOARDING_MAX_SESSION_DURATION: '43200',
      ONBOARDING_PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::111111111111:policy/Boundary',
      ONBOARDING_TEMPLATE_URL: 'https://s3.eu-central-1.amazonaws.com/vendor/deputy.yaml'
    })
    t.same(onboarding.permissions, permissions)
    t.match(onboarding.permissionsFile, /permissions-\d+\.json$/)
    t.same({ ...onboarding, permissions: undefined, permissionsFile: undefined }, {
      permissions: undefined,
      permissionsFile: undefined,
      roleName: 'Vendor+Access@prod',
      maxSessionDuration: 43_200,
      permissionsBoundaryArn: 'arn:aws:iam::111111111111:policy/Boundary',
      templateUrl: 'https://s3.eu-central-1.amazonaws.com/vendor/deputy.yaml',
      region: 'eu-central-1',
      warnings: []
    }, 'the console region defaults to the template bucket\'s region')
    t.equal(loadConfig({ AWS_REGION: 'ap-south-1' }).onboarding.region, 'ap-south-1', 'else deputy\'s AWS_REGION')
    t.equal(loadConfig({ AWS_REGION: 'ap-south-1', ONBOARDING_REGION: 'eu-west-3', ONBOARDING_TEMPLATE_URL: 'https://bkt.s3.eu-west-1.amazonaws.com/t.yaml' }).onboarding.region, 'eu-west-3', 'ONBOARDING_REGION wins')
    t.same((await withFile({})).onboarding.permissions, NO_PERMISSIONS, 'an empty permission set is allowed')
    t.same((await withFile({ statements: [ok] })).onboarding.permissions.managedPolicyArns, [], 'either list may be left out')
  })

  t.test('the permissions file: each rule refuses with a message naming the variable', async (t) => {
    const many = Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/Policy${i}`)
    const big = Array.from({ length: 80 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'], Resource: `arn:aws:s3:::a-rather-long-bucket-name-${i}/some/long/prefix/*` }))
    const cases: Array<[string, unknown, RegExp]> = [
      ['not JSON', '{"managedPolicyArns": [', /is not valid JSON/],
      ['not an object', ['arn:aws:iam::aws:policy/ReadOnlyAccess'], /must be a JSON object/],
      ['a misspelt field', { managedPolicyARNs: [] }, /unknown fields \("managedPolicyARNs"\)/],
      ['managedPolicyArns not a list', { managedPolicyArns: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }, /managedPolicyArns must be a list/],
      ['statements not a list', { statements: ok }, /statements must be a list/],
      ['a role ARN as a policy', { managedPolicyArns: ['arn:aws:iam::111111111111:role/x'] }, /is not a managed policy ARN/],
      ['a policy ARN with a region', { managedPolicyArns: ['arn:aws:iam:us-east-1:aws:policy/ReadOnlyAccess'] }, /is not a managed policy ARN/],
      ['a policy ARN of another partition', { managedPolicyArns: ['arn:aws-cn:iam::aws:policy/ReadOnlyAccess'] }, /not in the partition of VENDOR_PRINCIPAL_ARN/],
      ['a policy twice', { managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::aws:policy/ReadOnlyAccess'] }, /listed twice/],
      ['11 managed policies', { managedPolicyArns: many }, /11 policies, but IAM attaches at most 10/],
      ['a statement without Effect', { statements: [{ Action: 's3:GetObject', Resource: '*' }] }, /Effect must be "Allow" or "Deny"/],
      ['a statement with Action and NotAction', { statements: [{ ...ok, NotAction: 's3:*' }] }, /exactly one of Action or NotAction/],
      ['a statement without Resource', { statements: [{ Effect: 'Allow', Action: 's3:GetObject' }] }, /exactly one of Resource or NotResource/],
      ['a Principal (trust policy syntax)', { statements: [{ ...ok, Principal: { AWS: '*' } }] }, /cannot have: "Principal"/],
      ['a malformed action', { statements: [{ ...ok, Action: 'GetObject' }] }, /"GetObject" is not an action/],
      ['a bad condition operator', { statements: [{ ...ok, Condition: { StringEqualz: { 'aws:x': 'y' } } }] }, /"StringEqualz" is not an IAM condition operator/],
      ['duplicate Sids', { statements: [{ ...ok, Sid: 'A' }, { ...ok, Sid: 'A' }] }, /Sid "A" is used twice/],
      ['"*" on "*"', { statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }, /grants every action on every resource \(statement 0\).*ONBOARDING_ALLOW_ADMIN=true/],
      ['"*:*" on everything but one resource', { statements: [ok, { Effect: 'Allow', Action: ['*:*'], NotResource: 'arn:aws:s3:::x' }] }, /statement 1/],
      ['AdministratorAccess', { managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] }, /arn:aws:iam::aws:policy\/AdministratorAccess/],
      ['an inline policy over 10,240 characters', { statements: big }, /inline policy is \d+ characters minified; IAM allows 10240/]
    ]
    for (const [label, content, message] of cases) {
      await t.rejects(withFile(content), { name: 'ConfigError', variable: 'ONBOARDING_PERMISSIONS_FILE', message }, label)
    }
    t.throws(() => loadConfig({ ONBOARDING_PERMISSIONS_FILE: join(dir, 'missing.json') }), { variable: 'ONBOARDING_PERMISSIONS_FILE', message: /cannot read .*missing\.json \(ENOENT\)/ })
  })

  t.test('administrator access only with ONBOARDING_ALLOW_ADMIN=true, and then with a warning', async (t) => {
    const admin = { managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'], statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }
    const { onboarding } = await withFile(admin, { ONBOARDING_ALLOW_ADMIN: 'true' })
    t.same(onboarding.permissions, admin)
    t.match(onboarding.warnings, [/grants every action on every resource \(statement 0, arn:aws:iam::aws:policy\/AdministratorAccess\).*allowed by ONBOARDING_ALLOW_ADMIN/])
    const notAction = await withFile({ statements: [{ Effect: 'Allow', NotAction: 'iam:*', Resource: 'arn:aws:s3:::reports/*' }] })
    t.match(notAction.onboarding.warnings, [/Statement 0 allows every action except those in NotAction/], 'NotAction allows on named resources are accepted with a warning')
    // Every spelling of "everything" is administrator access, not just the literal "*" on "*".
    for (const statement of [
      { Effect: 'Allow', Action: '*', Resource: 'arn:aws:*:*:*:*' },
      { Effect: 'Allow', Action: '?*:*', Resource: '*' },
      { Effect: 'Allow', Action: '*:*', Resource: 'arn:*:*:*:*:*' },
      { Effect: 'Allow', NotAction: 'nosuch:Action', Resource: '*' },
      { Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::one-bucket' }
    ]) {
      await t.rejects(withFile({ statements: [statement] }), { variable: 'ONBOARDING_PERMISSIONS_FILE', message: /grants every action on every resource/ }, JSON.stringify(statement))
    }
    t.same((await withFile({ statements: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::bucket/*' }] })).onboarding.permissions.statements.length, 2, 'a whole service, or everything on one bucket, is not administrator access')
    t.throws(() => loadConfig({ ONBOARDING_ALLOW_ADMIN: 'yes' }), { variable: 'ONBOARDING_ALLOW_ADMIN', message: /true or false/ })
  })

  t.test('the role, the boundary, the template URL and the region', async (t) => {
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ ONBOARDING_ROLE_NAME: 'has space' }, 'ONBOARDING_ROLE_NAME', /IAM role name/],
      [{ ONBOARDING_ROLE_NAME: 'x'.repeat(65) }, 'ONBOARDING_ROLE_NAME', /1-64/],
      [{ ONBOARDING_ROLE_NAME: 'path/Name' }, 'ONBOARDING_ROLE_NAME', /IAM role name/],
      [{ ONBOARDING_MAX_SESSION_DURATION: '3599' }, 'ONBOARDING_MAX_SESSION_DURATION', /between 3600 and 43200/],
      [{ ONBOARDING_MAX_SESSION_DURATION: '43201' }, 'ONBOARDING_MAX_SESSION_DURATION', /between 3600 and 43200/],
      [{ ONBOARDING_MAX_SESSION_DURATION: '1h' }, 'ONBOARDING_MAX_SESSION_DURATION', /whole number/],
      [{ ONBOARDING_PERMISSIONS_BOUNDARY_ARN: 'ReadOnlyAccess' }, 'ONBOARDING_PERMISSIONS_BOUNDARY_ARN', /managed policy ARN/],
      [{ VENDOR_PRINCIPAL_ARN: VENDOR, ONBOARDING_PERMISSIONS_BOUNDARY_ARN: 'arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess' }, 'ONBOARDING_PERMISSIONS_BOUNDARY_ARN', /partition/],
      [{ ONBOARDING_TEMPLATE_URL: 'http://b.s3.us-east-1.amazonaws.com/t.yaml' }, 'ONBOARDING_TEMPLATE_URL', /https/],
      [{ ONBOARDING_TEMPLATE_URL: 'https://templates.example.com/t.yaml' }, 'ONBOARDING_TEMPLATE_URL', /must point at S3/],
      [{ ONBOARDING_TEMPLATE_URL: 'https://bkt.s3.us-east-1.amazonaws.com/t.yaml?X-Amz-Credential=AKIA&X-Amz-Signature=x' }, 'ONBOARDING_TEMPLATE_URL', /presigned/],
      [{ ONBOARDING_REGION: 'Frankfurt' }, 'ONBOARDING_REGION', /not a region name/]
    ]
    for (const [env, variable, message] of cases) {
      t.throws(() => loadConfig(env), { name: 'ConfigError', variable, message }, `${variable}=${Object.values(env).at(-1) ?? ''}`)
    }
  })

  t.test('the vendor principal customers trust is never an account root', async (t) => {
    for (const root of ['arn:aws:iam::111111111111:root', '111111111111', '*']) {
      t.throws(() => loadConfig({ VENDOR_PRINCIPAL_ARN: root }), { name: 'ConfigError', variable: 'VENDOR_PRINCIPAL_ARN' }, root)
    }
  })
})
