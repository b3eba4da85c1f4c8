// Secrets never reach the log: reads every line the app wrote during a run of requests that
// carry tokens in headers, bodies and responses.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from './helpers/app.js'
import { createCustomer } from './helpers/fixtures.js'

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
