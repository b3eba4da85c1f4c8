// Registering a connection with another customer's external ID: refused as not found before any
// STS call, whoever asks (an unbound client names the customer in the path; a bound one sees
// nothing of the other). Otherwise deputy would assume a role in the other tenant's account on
// this customer's behalf. Through the API and the STS emulator, counting its AssumeRole calls.
import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, call } from '../helpers/app.js'
import { roleArn, secureTrust, startTestAws } from '../helpers/aws.js'
import { awsAccount, createApiClient, createCustomer, mintExternalId } from '../helpers/fixtures.js'

t.test('registration with another customer\'s external ID', async (t) => {
  const aws = await startTestAws(t)
  const { app, database } = await buildTestApp(t, aws.env)
  const mine = await createCustomer(app)
  const theirs = await createCustomer(app)
  // The other tenant's account is fully set up: its role trusts deputy with its own external ID,
  // so only deputy's tenancy check stands between the request and a session in that account.
  const account = awsAccount()
  const theirId = await mintExternalId(app, theirs.id, account)
  aws.emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(theirId.externalId) })
  const bound = await createApiClient(app, ['connections:write'], mine.id)
  const stsCalls = () => aws.emulator.calls().filter((c) => c.action === 'AssumeRole').length

  for (const [who, token] of [['an unbound client', ADMIN_TOKEN], ['a client bound to the customer in the path', bound.token]] as const) {
    t.test(`${who}: 404 problem, no AssumeRole call, nothing stored`, async (t) => {
      const before = stsCalls()
      const res = await call(app, 'POST', `/v1/customers/${mine.id}/connections`, { token, body: { externalIdId: theirId.id, roleArn: roleArn(account) } })
      t.equal(res.statusCode, 404)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.match(res.json(), { type: 'urn:deputy:problem:not_found', status: 404, code: 'not_found', detail: `external ID ${theirId.id} does not exist` })
      t.notMatch(res.body, new RegExp(theirId.externalId), 'the other tenant\'s external ID is not revealed')
      t.equal(stsCalls(), before, 'STS was not called: no session in the other tenant\'s account')
      t.equal(await database.prisma.connection.count({ where: { externalIdId: theirId.id } }), 0)
    })
  }
})
