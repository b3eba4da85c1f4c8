// deputy credentials, the credential_process: the document the AWS SDKs read on stdout, the URL
// and token from the environment only (never printed), one line on stderr and a distinct exit
// code for each kind of failure. test/clients/ runs it under the AWS CLI and boto3.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { credentialsCommand, EXIT } from '../../src/cli/credentials.js'
import { buildTestApp } from '../helpers/app.js'
import { startTestAws } from '../helpers/aws.js'
import { connectRole, createApiClient, createCustomer } from '../helpers/fixtures.js'

t.test('deputy credentials', async (t) => {
  const aws = await startTestAws(t)
  const { app } = await buildTestApp(t, aws.env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const customer = await createCustomer(app)
  const worker = await createApiClient(app, ['credentials:issue'])
  const { connection, account } = await connectRole(app, aws.emulator, customer.id)
  const dir = mkdtempSync(join(tmpdir(), 'deputy-credentials-cli-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

  const run = async (argv: string[], env: Record<string, string | undefined>) => {
    let stdout = ''
    let stderr = ''
    const code = await credentialsCommand(argv, { env, stdout: (text) => { stdout += text }, stderr: (text) => { stderr += text } })
    return { code, stdout, stderr }
  }
  const args = ['--connection', connection.id, '--purpose', 'nightly inventory']

  t.test('prints the credential_process document', async (t) => {
    const { code, stdout, stderr } = await run([...args, '--duration', '1800'], { DEPUTY_URL: url, DEPUTY_TOKEN: worker.token })
    t.equal(code, 0, stderr)
    const document = JSON.parse(stdout)
    t.same(Object.keys(document), ['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'])
    t.equal(document.Version, 1)
    t.match(document.AccessKeyId, /^ASIA/)
    const left = (Date.parse(document.Expiration) - Date.now()) / 1000
    t.ok(left > 1790 && left <= 1800, `--duration (${left} s)`)
    t.notOk(stdout.includes(worker.token), 'the token is not printed')
    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
    const who = await new STSClient({ region: 'us-east-1', credentials: { accessKeyId: document.AccessKeyId, secretAccessKey: document.SecretAccessKey, sessionToken: document.SessionToken } }).send(new GetCallerIdentityCommand({}))
    t.match(who.Arn, new RegExp(`^arn:aws:sts::${account}:assumed-role/`))
  })

  t.test('DEPUTY_TOKEN_FILE: the file the container provider takes works too ("Bearer ", newline)', async (t) => {
    const file = join(dir, 'token')
    writeFileSync(file, `Bearer ${worker.token}\n`, { mode: 0o600 })
    const { code, stderr } = await run(args, { DEPUTY_URL: url, DEPUTY_TOKEN_FILE: file, DEPUTY_TOKEN: 'dpt_ignored' })
    t.equal(code, 0, stderr)
    const missing = await run(args, { DEPUTY_URL: url, DEPUTY_TOKEN_FILE: join(dir, 'absent') })
    t.same([missing.code, missing.stderr], [EXIT.usage, `deputy: cannot read DEPUTY_TOKEN_FILE ${join(dir, 'absent')}: ENOENT\n`])
  })

  t.test('deputy\'s refusal: exit 4, its code and detail in one line, no token', async (t) => {
    const wrong = 'dpt_wrong-token-0123456789abcdefghijklmnopqrstuvwxyz'
    const refused = await run(args, { DEPUTY_URL: url, DEPUTY_TOKEN: wrong })
    t.equal(refused.code, EXIT.refused)
    t.equal(refused.stderr, 'deputy: unauthorized: this API token is not valid\n')
    t.equal(refused.stdout, '')
    const bad = await run(['--connection', connection.id, '--purpose', 'x'], { DEPUTY_URL: url, DEPUTY_TOKEN: worker.token })
    t.equal(bad.code, EXIT.refused)
    t.match(bad.stderr, /^deputy: validation_failed: [^\n]+\n$/)
  })

  t.test('environment and usage: exit 2; an unreachable deputy: exit 3', async (t) => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [args, { DEPUTY_TOKEN: worker.token }, /set DEPUTY_URL/],
      [args, { DEPUTY_URL: url }, /set DEPUTY_TOKEN or DEPUTY_TOKEN_FILE/],
      [args, { DEPUTY_URL: 'http://deputy.example.com', DEPUTY_TOKEN: worker.token }, /must be https outside loopback/],
      [args, { DEPUTY_URL: 'http://user:pw@127.0.0.1:1', DEPUTY_TOKEN: worker.token }, /must not hold credentials/],
      [['--purpose', 'p'], { DEPUTY_URL: url, DEPUTY_TOKEN: worker.token }, /needs --connection/],
      [['--connection', connection.id], { DEPUTY_URL: url, DEPUTY_TOKEN: worker.token }, /needs --purpose/],
      [[...args, '--token', worker.token], { DEPUTY_URL: url, DEPUTY_TOKEN: worker.token }, /Unknown option '--token'/]
    ]
    for (const [argv, env, message] of cases) {
      const { code, stderr, stdout } = await run(argv, env)
      t.equal(code, EXIT.usage, message.source)
      t.match(stderr, message)
      t.notOk(stderr.includes(worker.token) || stdout.includes(worker.token), 'the token is never printed')
    }
    // A port that was just free: nothing listens there.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise((resolve) => probe.close(resolve))
    const down = await run(args, { DEPUTY_URL: `http://127.0.0.1:${port}`, DEPUTY_TOKEN: worker.token })
    t.same([down.code, down.stderr], [EXIT.unreachable, `deputy: cannot reach deputy at http://127.0.0.1:${port}: ECONNREFUSED\n`])
  })
})
