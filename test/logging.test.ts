// Secrets never reach the log: reads every line the app wrote during a run of requests that
// carry tokens in headers, bodies and responses, and during credential issuance at trace level.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from './helpers/app.js'
import { startTestAws } from './helpers/aws.js'
import { connectRole, createCustomer } from './helpers/fixtures.js'

t.test('tokens never appear in the logs', async (t) => {
  const { app, logs } = await buildTestApp(t, { LOG_LEVEL: 'trace' })
  const created = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'logged', scopes: ['customers:read'] } })
  const newToken = created.json().token as string
  await call(app, 'GET', '/v1/customers', { token: newToken })
  await call(app, 'GET', '/v1/customers', { token: 'dpt_wrong-token-in-a-log-test-000000000000000000' })
  await call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'x', token: newToken } })
  await call(app, 'POST', `/v1/api-clients/${created.json().id as string}/revoke`, { token: ADMIN_TOKEN })
  await call(app, 'GET', '/v1/customers', { token: newToken })
  await createCustomer(app)
  app.log.info({ headers: { authorization: `Bearer ${newToken}` }, client: { token: newToken } }, 'a careless log line')

  const output = logs.join('')
  t.ok(logs.length > 10, `the app logged (${logs.length} lines)`)
  t.match(output, /request completed/)
  t.match(output, /\[redacted\]/, 'authorization is redacted where it would appear')
  for (const secret of [ADMIN_TOKEN, newToken, 'dpt_wrong-token-in-a-log-test']) {
    t.notOk(output.includes(secret), `${secret.slice(0, 8)}... is not in the log`)
  }
})

t.test('issuing credentials at LOG_LEVEL=trace: the session\'s secret key and token, the API token and the vendor\'s AWS secret never reach the log', async (t) => {
  const aws = await startTestAws(t)
  // The real pino logger at its most verbose level, every line captured.
  const { app, logs } = await buildTestApp(t, { ...aws.env, LOG_LEVEL: 'trace' })
  const customer = await createCustomer(app)
  const { connection } = await connectRole(app, aws.emulator, customer.id)
  const issuer = await call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: 'issuer', scopes: ['credentials:issue'] } })
  const issuerToken = issuer.json<{ token: string }>().token
  const sessions: Array<{ accessKeyId: string, secretAccessKey: string, sessionToken: string }> = []
  const issue = async (body: Record<string, unknown>): Promise<number> => {
    const res = await call(app, 'POST', `/v1/connections/${connection.id}/credentials`, { token: issuerToken, body })
    if (res.statusCode === 201) sessions.push(res.json<{ credentials: { accessKeyId: string, secretAccessKey: string, sessionToken: string } }>().credentials)
    return res.statusCode
  }
  t.equal(await issue({ purpose: 'trace log test' }), 201)
  t.equal(await issue({ purpose: 'with a session policy', sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } }), 201)
  // STS failing, and then answering after a throttle (the retry path logs too).
  aws.emulator.injectFault({ kind: 'server_error', action: 'AssumeRole', count: 10 })
  t.ok(await issue({ purpose: 'sts fails' }) >= 500, 'refused while STS fails')
  aws.emulator.clearFaults()
  aws.emulator.injectFault({ kind: 'throttle', action: 'AssumeRole', count: 1 })
  t.equal(await issue({ purpose: 'after a throttle' }), 201)
  t.equal(sessions.length, 3)

  const output = logs.join('')
  t.ok(logs.length > 20, `the app logged (${logs.length} lines)`)
  t.equal(app.log.level, 'trace', 'the app logs at trace level (and so at every level)')
  t.ok(output.includes(sessions[0]!.accessKeyId) || output.includes(connection.id), 'the issuance is in the log (by id)')
  const secrets: Array<[string, string]> = [
    ['the API token', issuerToken],
    ['the admin token', ADMIN_TOKEN],
    ['the vendor\'s AWS secret access key', aws.keys.secretAccessKey],
    ...sessions.flatMap((s, i): Array<[string, string]> => [[`session ${i}'s secret access key`, s.secretAccessKey], [`session ${i}'s session token`, s.sessionToken]])
  ]
  for (const [what, secret] of secrets) {
    t.ok(secret.length >= 20, `${what} is a real value`)
    t.notOk(output.includes(secret), `${what} is not in the log`)
    // Nor a recognisable part of it (a line cut or re-encoded).
    t.notOk(output.includes(secret.slice(0, 16)), `${what}: not even its first 16 characters`)
  }
})
