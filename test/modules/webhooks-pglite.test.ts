// Webhooks on the embedded default (PGlite): pg-boss runs on the same in-process database as
// deputy, through its PGlite adapter; the sealer, the relay and the workers share its one
// connection, and a change is delivered, signed. A file of its own because
// PGlite takes seconds to start and migrate, so it runs beside webhooks.test.ts.
import Fastify from 'fastify'
import t from 'tap'
import { app, fastifyOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { createLogger } from '../../src/logger.js'
import { ADMIN_TOKEN, call } from '../helpers/app.js'
import { newSecret, startReceiver, type WebhookBody } from '../helpers/webhook-receiver.js'

t.test('webhooks on PGlite: a freeze and an unfreeze are delivered, signed', async (t) => {
  const secret = newSecret()
  const receiver = await startReceiver(t, secret)
  const env = { LOG_LEVEL: 'silent', DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN, WEBHOOK_POLL_INTERVAL_MS: '500', WEBHOOK_RELAY_INTERVAL_MS: '100', AUDIT_SEAL_INTERVAL_MS: '100', WEBHOOK_ENDPOINTS: JSON.stringify([{ name: 'embedded', url: receiver.url, secret }]) }
  const config = { ...loadConfig(env), database: { kind: 'pglite' as const, dataDir: 'memory://' } }
  const database = await openDatabase(config.database)
  t.teardown(() => database.close())
  await database.migrate()
  const fastify = Fastify(fastifyOptions(config, createLogger(config)))
  await fastify.register(app, { config, database })
  t.teardown(() => fastify.close())
  const started = performance.now()
  await fastify.ready()
  t.comment(`ready in ${Math.round(performance.now() - started)} ms`)
  t.equal((await call(fastify, 'POST', '/v1/admin/freeze', { token: ADMIN_TOKEN, body: { reason: 'embedded' } })).statusCode, 200)
  t.equal((await call(fastify, 'POST', '/v1/admin/unfreeze', { token: ADMIN_TOKEN, body: {} })).statusCode, 200)
  await receiver.until('both deliveries (pg-boss creates its schema in PGlite first)', () => receiver.delivered().length === 2, 30_000)
  t.comment(`delivered ${Math.round(performance.now() - started)} ms after ready`)
  t.ok(receiver.attempts.every((a) => a.valid), 'each delivery verifies')
  t.same(receiver.attempts.map((a) => (JSON.parse(a.body) as WebhookBody).type).sort(), ['issuance.frozen', 'issuance.unfrozen'])
})
