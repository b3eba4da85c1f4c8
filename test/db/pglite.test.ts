// The embedded default runs the same migrations on PGlite, and the same database rules hold.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import { app, fastifyOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { createLogger } from '../../src/logger.js'
import { ADMIN_TOKEN, call } from '../helpers/app.js'

t.test('deputy on PGlite', async (t) => {
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN }), database: { kind: 'pglite' as const, dataDir: 'memory://' } }
  const database = await openDatabase(config.database)
  t.teardown(() => database.close())
  const migrated = await database.migrate()
  t.ok(migrated.applied.length >= 1)
  t.same((await database.migrate()).applied, [], 'a second run applies nothing')

  const fastify = Fastify(fastifyOptions(config, createLogger(config)))
  await fastify.register(app, { config, database })
  t.teardown(() => fastify.close())
  t.equal((await call(fastify, 'GET', '/readyz')).statusCode, 200)

  const customer = await call(fastify, 'POST', '/v1/customers', { token: ADMIN_TOKEN, body: { name: 'Embedded' } })
  t.equal(customer.statusCode, 201)
  const path = `/v1/customers/${customer.json().id as string}/external-ids`
  const minted = await call(fastify, 'POST', path, { token: ADMIN_TOKEN, body: { awsAccountId: '111122223333' } })
  t.equal(minted.statusCode, 201)
  const again = await call(fastify, 'POST', path, { token: ADMIN_TOKEN, body: { awsAccountId: '111122223333' } })
  t.equal(again.statusCode, 409)
  t.equal(again.json().existingExternalIdId, minted.json().id)

  await t.rejects(database.prisma.$executeRawUnsafe(`UPDATE external_ids SET value = '${randomUUID()}'`), /immutable/)
  await t.rejects(database.prisma.$executeRawUnsafe('DELETE FROM audit_events'), /append-only/)
})
