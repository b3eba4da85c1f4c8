// deputy's own AWS identity without long-term keys: a real deputy process starts on credentials
// from a credential_process (the way IAM Roles Anywhere's signing helper supplies them) and
// issues with them; long-term access keys (AKIA...) are reported at start, in a gauge and in
// /readyz to an operator's token.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { awsAccount, createApiClient } from '../helpers/fixtures.js'
import { policy, roleArn, secureTrust, startTestAws } from '../helpers/aws.js'
import { createTestDatabase } from '../helpers/postgres.js'
import { spawnDeputy, waitForReady } from '../helpers/process.js'

t.test('deputy starts on credentials from a credential_process and issues with them', async (t) => {
  const aws = await startTestAws(t)
  const databaseUrl = await createTestDatabase(t)
  // The vendor's role, which a signing helper (here: a user's keys, exchanged once below) enters.
  const vendorRole = 'arn:aws:iam::111111111111:role/deputy-vendor'
  const helperUser = 'arn:aws:iam::111111111111:user/signing-helper'
  const helperKeys = aws.emulator.createUser(helperUser)
  aws.emulator.putRole({ arn: vendorRole, trustPolicy: policy({ Effect: 'Allow', Principal: { AWS: helperUser }, Action: 'sts:AssumeRole' }) })
  const sts = new STSClient({ region: 'us-east-1', endpoint: aws.url, credentials: helperKeys })
  const session = await sts.send(new AssumeRoleCommand({ RoleArn: vendorRole, RoleSessionName: 'roles-anywhere', DurationSeconds: 3600 }))
  sts.destroy()
  const c = session.Credentials
  if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined || c.Expiration === undefined) throw new Error('no session')

  const dir = mkdtempSync(join(tmpdir(), 'deputy-own-credentials-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const runs = join(dir, 'runs')
  writeFileSync(runs, '')
  const document = join(dir, 'credentials.json')
  writeFileSync(document, JSON.stringify({ Version: 1, AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: c.Expiration.toISOString() }), { mode: 0o600 })
  // What aws_signing_helper credential-process does: print the document, here counting its runs.
  const helper = join(dir, 'signing-helper.mjs')
  writeFileSync(helper, `import { appendFileSync, readFileSync } from 'node:fs'\nappendFileSync(${JSON.stringify(runs)}, 'run\\n')\nprocess.stdout.write(readFileSync(${JSON.stringify(document)}, 'utf8'))\n`)
  chmodSync(helper, 0o700)
  const config = join(dir, 'config')
  writeFileSync(config, `[default]\nregion = us-east-1\ncredential_process = ${process.execPath} ${helper}\n`)

  // No AWS key in deputy's environment: only the config file says where credentials come from.
  const deputy = spawnDeputy(['serve'], {
    ...aws.env,
    VENDOR_PRINCIPAL_ARN: vendorRole,
    DATABASE_URL: databaseUrl,
    MIGRATE_ON_START: 'false',
    DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
    PORT: '0',
    LOG_LEVEL: 'info',
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_STS: aws.url,
    AWS_ENDPOINT_URL_IAM: aws.url,
    AWS_REGION: 'us-east-1'
  })
  t.teardown(async () => {
    deputy.child.kill('SIGTERM')
    await deputy.exit
  })
  const url = await waitForReady(deputy)
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    return { status: res.status, body: await res.text() }
  }

  t.ok(readFileSync(runs, 'utf8').split('\n').filter((l) => l !== '').length >= 1, 'deputy ran the credential_process')
  t.match(deputy.output(), /"awsCredentials":"temporary"[^\n]*AWS identity confirmed|AWS identity confirmed[^\n]*"awsCredentials":"temporary"/, 'the start-up log line says the credentials are temporary')
  t.notMatch(deputy.output(), /long-term access keys/, 'no long-term-keys warning')
  t.match(JSON.parse((await api('GET', '/readyz')).body), { status: 'ok', awsCredentials: 'temporary' }, '/readyz tells an operator')
  t.match((await api('GET', '/metrics')).body, /^deputy_aws_credentials_long_term 0$/m)

  // deputy's STS calls succeed on these credentials: the probe and an issuance.
  const customer = JSON.parse((await api('POST', '/v1/customers', { name: 'Role-run customer' })).body) as { id: string }
  const account = awsAccount()
  const externalId = JSON.parse((await api('POST', `/v1/customers/${customer.id}/external-ids`, { awsAccountId: account })).body) as { id: string, externalId: string }
  aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId, vendorRole), maxSessionDuration: 3600 })
  const connected = await api('POST', `/v1/customers/${customer.id}/connections`, { externalIdId: externalId.id, roleArn: roleArn(account) })
  t.equal(connected.status, 201, `the probe passed: ${connected.body}`)
  const connection = JSON.parse(connected.body) as { id: string }
  const issued = await api('POST', `/v1/connections/${connection.id}/credentials`, { purpose: 'run on a role' })
  t.equal(issued.status, 201, issued.body)
  t.match(JSON.parse(issued.body), { assumedRoleArn: new RegExp(`^arn:aws:sts::${account}:assumed-role/DeputyAccess/`) })
  const assumed = aws.emulator.calls().filter((call) => call.action === 'AssumeRole' && call.params.RoleArn === roleArn(account))
  t.ok(assumed.filter((call) => call.outcome === 'ok').length >= 2, 'probe and issuance reached STS and were answered')
  // The probe's refused calls (without the external ID) included: every one signed by the role.
  t.same([...new Set(assumed.map((call) => call.callerArn))], ['arn:aws:sts::111111111111:assumed-role/deputy-vendor/roles-anywhere'], 'signed as the vendor role\'s session from the credential_process')
})

t.test('long-term access keys: a warning at start, the gauge, and /readyz for an operator only', async (t) => {
  const aws = await startTestAws(t)
  t.match(aws.keys.accessKeyId, /^AKIA/, 'the emulator\'s IAM user keys are long-term')
  const { app, logs } = await buildTestApp(t, aws.env)
  const warning = logs.map((line) => JSON.parse(line) as { level: number, msg: string, awsCredentials?: string }).find((line) => line.awsCredentials === 'long_term' && /long-term access keys/.test(line.msg))
  t.equal(warning?.level, 40, 'a warning at start')
  t.notOk(logs.some((line) => line.includes(aws.keys.secretAccessKey) || line.includes(aws.keys.accessKeyId)), 'no key in the log')
  t.match((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).body, /^deputy_aws_credentials_long_term 1$/m)
  const ready = await call(app, 'GET', '/readyz', { token: ADMIN_TOKEN })
  t.same(ready.json(), { status: 'ok', awsCredentials: 'long_term' })
  t.same((await call(app, 'GET', '/readyz')).json(), { status: 'ok' }, 'a probe without a token: the plain answer')
  const worker = await createApiClient(app, ['credentials:issue'])
  t.equal((await call(app, 'GET', '/readyz', { token: worker.token })).statusCode, 403, 'a token without metrics:read is refused')
  t.equal((await call(app, 'GET', '/readyz', { token: 'dpt_unknown-0123456789abcdefghijklmnopqrstuvwxyz' })).statusCode, 401, 'an unknown token is refused')
})

t.test('without AWS: no gauge and no awsCredentials (not a claim of temporary credentials)', async (t) => {
  const { app } = await buildTestApp(t)
  t.notMatch((await call(app, 'GET', '/metrics', { token: ADMIN_TOKEN })).body, /deputy_aws_credentials_long_term/)
  t.same((await call(app, 'GET', '/readyz', { token: ADMIN_TOKEN })).json(), { status: 'ok' })
})
