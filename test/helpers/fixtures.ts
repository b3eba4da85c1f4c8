// Small factories that go through the API, as a client would.
import type { FastifyInstance } from 'fastify'
import type { StsEmulator } from '../../src/aws/sts-emulator/emulator.js'
import { ADMIN_TOKEN, call } from './app.js'
import { roleArn, secureTrust } from './aws.js'

let counter = 0
const next = (): number => ++counter

export interface Customer { id: string, name: string, externalRef: string | null }
export interface ExternalId { id: string, customerId: string, awsAccountId: string, externalId: string, status: string }
export interface ApiClient { id: string, name: string, token: string, scopes: string[], customerId: string | null }

async function expectStatus<T> (responsePromise: ReturnType<typeof call>, status: number): Promise<T> {
  const response = await responsePromise
  if (response.statusCode !== status) throw new Error(`expected ${status}, got ${response.statusCode}: ${response.body}`)
  return response.json<T>()
}

export const createCustomer = (app: FastifyInstance, fields: { name?: string, externalRef?: string } = {}): Promise<Customer> =>
  expectStatus(call(app, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: fields.name ?? `Customer ${next()}`, ...fields } }), 201)

export const mintExternalId = (app: FastifyInstance, customerId: string, awsAccountId: string, token = ADMIN_TOKEN): Promise<ExternalId> =>
  expectStatus(call(app, 'POST', `/v1/customers/${customerId}/external-ids`, { token, body: { awsAccountId } }), 201)

export const createApiClient = (app: FastifyInstance, scopes: string[], customerId?: string): Promise<ApiClient> =>
  expectStatus(call(app, 'POST', '/v1/api-clients', { token: ADMIN_TOKEN, body: { name: `client ${next()}`, scopes, ...(customerId === undefined ? {} : { customerId }) } }), 201)

export const awsAccount = (): string => String(100000000000 + Math.floor(Math.random() * 899999999999))

/**
 * A customer role that passes the probe: mints the external ID, creates the role in the STS
 * emulator with the trust policy deputy asks for, and registers the connection.
 */
export async function connectRole (app: FastifyInstance, emulator: Pick<StsEmulator, 'putRole'>, customerId: string): Promise<{ connection: { id: string }, externalId: ExternalId, account: string }> {
  const account = awsAccount()
  const externalId = await mintExternalId(app, customerId, account)
  emulator.putRole({ arn: roleArn(account), trustPolicy: secureTrust(externalId.externalId), maxSessionDuration: 3600 })
  const res = await call(app, 'POST', `/v1/customers/${customerId}/connections`, { token: ADMIN_TOKEN, body: { externalIdId: externalId.id, roleArn: roleArn(account) } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { connection: res.json<{ id: string }>(), externalId, account }
}
