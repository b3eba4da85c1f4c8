// Starts deputy: config -> logger -> database (migrated when asked) -> Fastify(app) -> listen,
// and closes gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight, close the database).
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import { app, fastifyOptions } from './app.js'
import type { Config } from './config.js'
import { openDatabase } from './db/database.js'
import { createLogger } from './logger.js'

export async function startServer (config: Config): Promise<FastifyInstance> {
  const logger = createLogger(config)
  const startedAt = performance.now()
  const database = await openDatabase(config.database)
  try {
    if (config.migrateOnStart) {
      const result = await database.migrate()
      logger.info({ applied: result.applied, alreadyApplied: result.alreadyApplied.length }, 'database migrations checked')
    }
    const server = Fastify(fastifyOptions(config, logger))
    server.addHook('onClose', async () => { await database.close() })
    // Keep-alive clients would hold the server open after close(): once closing, every response
    // still being sent tells its client to hang up.
    let closing = false
    server.addHook('preClose', async () => { closing = true })
    server.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close') })
    await server.register(app, { config, database })
    await server.listen({ port: config.port, host: config.host })
    logger.info({ database: database.kind, startupMs: Math.round(performance.now() - startedAt) }, 'deputy is ready')

    closeWithGrace({ delay: 10_000, logger: { error: (message: string) => logger.error(message) } }, async ({ signal, err }) => {
      if (err !== undefined) logger.error({ err }, 'closing after an unexpected error')
      else logger.info({ signal }, 'closing: no new connections, finishing in-flight requests')
      await server.close()
    })
    return server
  } catch (error) {
    await database.close()
    throw error
  }
}
