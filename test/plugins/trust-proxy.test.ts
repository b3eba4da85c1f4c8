// TRUST_PROXY: which X-Forwarded-For entry becomes the audited, rate-limited client address.
// The client writes the leftmost entries itself; only what a trusted proxy appended may count.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { Database } from '../../src/db/database.js'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.js'

const randomToken = (): string => `dpt_${randomBytes(32).toString('base64url')}`

/** Sends a request with a random token and returns the source IP of its auth.failed event. */
async function auditedAddress (app: FastifyInstance, database: Database, remoteAddress: string, forwardedFor?: string): Promise<string | null | undefined> {
  const requestId = `trust-proxy-${randomBytes(6).toString('hex')}`
  const headers: Record<string, string> = { authorization: `Bearer ${randomToken()}`, 'x-request-id': requestId }
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor
  const res = await app.inject({ method: 'GET', url: '/v1/customers', remoteAddress, headers })
  if (res.statusCode !== 401) throw new Error(`expected 401, got ${res.statusCode}: ${res.body}`)
  const event = await database.prisma.auditEvent.findFirst({ where: { action: 'auth.failed', requestId } })
  return event?.sourceIp
}

t.test('TRUST_PROXY=1: a forged leftmost X-Forwarded-For entry is not the audited or rate-limited address; what the proxy appended is', async (t) => {
  const { app, database } = await buildTestApp(t, { TRUST_PROXY: '1', AUTH_FAILURE_LIMIT_MAX: '3' })
  const proxy = '10.0.0.2'
  const client = '198.51.100.20'
  t.equal(await auditedAddress(app, database, proxy, `6.6.6.6, ${client}`), client, 'the entry the one trusted proxy appended')
  t.equal(await auditedAddress(app, database, proxy, `1.2.3.4, 5.6.7.8, ${client}`), client, 'however many entries the client forged')
  t.equal(await auditedAddress(app, database, proxy), proxy, 'no header: the peer itself')

  const created = await app.inject({ method: 'POST', url: '/v1/customers', remoteAddress: proxy, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-forwarded-for': `6.6.6.6, ${client}` }, payload: { name: 'Behind a proxy' } })
  t.equal(created.statusCode, 201)
  const event = await database.prisma.auditEvent.findFirst({ where: { action: 'customer.created', resourceId: created.json().id } })
  t.equal(event?.sourceIp, client, 'the change is audited with the real client address')

  // Two failures so far from the client; a forged entry that changes with every request
  // does not buy a fresh failure budget.
  const forged = await app.inject({ method: 'GET', url: '/v1/customers', remoteAddress: proxy, headers: { authorization: `Bearer ${randomToken()}`, 'x-forwarded-for': `203.0.113.99, ${client}` } })
  t.equal(forged.statusCode, 401, 'third failure from the client')
  const throttled = await app.inject({ method: 'GET', url: '/v1/customers', remoteAddress: proxy, headers: { authorization: `Bearer ${randomToken()}`, 'x-forwarded-for': `203.0.113.100, ${client}` } })
  t.equal(throttled.statusCode, 429)
  t.equal(throttled.json().code, 'auth_throttled', 'throttled by the real address, whatever the forged entry says')
})

t.test('TRUST_PROXY=<addresses>: only listed proxies may set the address; anyone else is taken at their socket address', async (t) => {
  const { app, database } = await buildTestApp(t, { TRUST_PROXY: '10.0.0.0/8,127.0.0.1' })
  t.equal(await auditedAddress(app, database, '10.0.0.2', '6.6.6.6, 198.51.100.21'), '198.51.100.21', 'a listed proxy: the entry it appended')
  t.equal(await auditedAddress(app, database, '10.0.0.2', '6.6.6.6, 198.51.100.22, 10.1.2.3'), '198.51.100.22', 'a chain of listed proxies: the first address that is not one')
  t.equal(await auditedAddress(app, database, '203.0.113.5', '6.6.6.6'), '203.0.113.5', 'a direct client cannot claim an address')
})

t.test('TRUST_PROXY unset: X-Forwarded-For is ignored', async (t) => {
  const { app, database } = await buildTestApp(t)
  t.equal(await auditedAddress(app, database, '203.0.113.6', '6.6.6.6'), '203.0.113.6')
})
