// A database that does not answer is the caller's cue to retry, not a bug: 503
// database_unavailable (problem+json, Retry-After), never a 500, whichever way the error arrives
// (Prisma over the pg adapter, or pg itself on the hot paths). Each error below is made by the
// real driver against a real (or unreachable) PostgreSQL. The whole story under load, with
// PostgreSQL stopped and started: test/reliability/postgres-restart.reliability.ts.
import Fastify from 'fastify'
import pg from 'pg'
import t from 'tap'
import { PrismaPg } from '@prisma/adapter-pg'
import { app, fastifyOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import { createLogger } from '../../src/logger.js'
import { isDatabaseUnavailable } from '../../src/plugins/error-handler.js'
import { assertResponseMatchesSpec } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/postgres.js'

const UNREACHABLE = 'postgresql://postgres@127.0.0.1:1/deputy'

const failure = async (promise: Promise<unknown>): Promise<unknown> => promise.then(() => { throw new Error('expected a failure') }, (error: unknown) => error)

t.test('errors that mean "the database did not answer", and errors that do not', async (t) => {
  const refused = await failure(new pg.Client({ connectionString: UNREACHABLE }).connect())
  t.ok(isDatabaseUnavailable(refused), 'pg: connection refused')

  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: UNREACHABLE }) })
  t.teardown(() => prisma.$disconnect())
  const prismaRefused = await failure(prisma.customer.findMany())
  t.match(prismaRefused, { code: 'P1001' })
  t.ok(isDatabaseUnavailable(prismaRefused), 'Prisma: cannot reach the database')

  // A backend terminated under an open connection, as a PostgreSQL shutdown does (57P01).
  const url = await createTestDatabase(t)
  const victim = new pg.Client({ connectionString: url })
  victim.on('error', () => {})
  await victim.connect()
  const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  t.teardown(() => admin.end())
  const pending = failure(victim.query('SELECT pg_sleep(5)'))
  await new Promise((resolve) => setTimeout(resolve, 100))
  await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
  const terminated = await pending
  t.match(terminated, { code: '57P01' })
  t.ok(isDatabaseUnavailable(terminated), 'pg: the backend was terminated')
  t.ok(isDatabaseUnavailable(await failure(victim.query('SELECT 1'))), 'pg: a query on the dead connection')

  // And what is not an outage: a failing statement, a syntax error, a plain error.
  t.notOk(isDatabaseUnavailable(await failure(admin.query('SELECT 1/0'))), 'division by zero')
  t.notOk(isDatabaseUnavailable(await failure(admin.query('SELEC 1'))), 'a syntax error')
  t.notOk(isDatabaseUnavailable(new Error('something else')), 'an unrelated error')
  t.notOk(isDatabaseUnavailable(undefined), 'nothing at all')
})

t.test('with its database unreachable, deputy answers 503 database_unavailable with Retry-After', async (t) => {
  const config = loadConfig({ DATABASE_URL: UNREACHABLE, LOG_LEVEL: 'silent', AUDIT_SEAL_INTERVAL_MS: '0', DRIFT_TICK_MS: '0' })
  const database = await openDatabase(config.database)
  const fastify = Fastify(fastifyOptions(config, createLogger(config)))
  await fastify.register(app, { config, database })
  await fastify.ready()
  t.teardown(async () => {
    await fastify.close()
    await database.close()
  })
  for (const [method, url] of [['GET', '/v1/customers'], ['POST', '/v1/customers'], ['GET', '/readyz']] as const) {
    const res = await fastify.inject({ method, url, headers: { authorization: 'Bearer dpt_some-token-that-cannot-be-looked-up-now-000' }, ...(method === 'POST' ? { payload: { name: 'Acme' } } : {}) })
    t.equal(res.statusCode, 503, `${method} ${url}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(res.headers['retry-after'], '5')
    t.match(res.json(), { code: 'database_unavailable', status: 503 })
    assertResponseMatchesSpec(res)
  }
  t.equal((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'the process itself is alive')
})
