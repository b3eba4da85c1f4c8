// Starts deputy: config -> logger -> database (migrated when asked) -> the sandbox's emulated AWS
// (only in the sandbox) -> Fastify(app) -> listen -> the sandbox's banner, and closes gracefully
// on SIGTERM/SIGINT (stop accepting, finish in-flight, close the database).
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { app, fastifyOptions } from './app.js'
import type { Config } from './config.js'
import { openDatabase } from './db/database.js'
import { createLogger } from './logger.js'
import { claimSandboxDataDir, startSandbox, type Sandbox } from './modules/sandbox/sandbox.js'

export async function startServer (config: Config): Promise<FastifyInstance> {
  const logger = createLogger(config)
  const startedAt = performance.now()
  if (config.sandbox !== undefined && config.database.kind === 'pglite') await claimSandboxDataDir(config.database.dataDir)
  const database = await openDatabase(config.database)
  let sandbox: Sandbox | undefined
  try {
    if (config.migrateOnStart) {
      const result = await database.migrate()
      logger.info({ applied: result.applied, alreadyApplied: result.alreadyApplied.length }, 'database migrations checked')
    }
    if (config.sandbox !== undefined) sandbox = await startSandbox(config.sandbox)
    const server = Fastify(fastifyOptions(config, logger))
    server.addHook('onClose', async () => { await database.close() })
    server.addHook('onClose', async () => { await sandbox?.close() })
    // Keep-alive clients would hold the server open after close(): once closing, every response
    // still being sent tells its client to hang up.
    let closing = false
    server.addHook('preClose', async () => { closing = true })
    server.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close') })
    await server.register(app, { config, database, sandbox })
    await server.listen({ port: config.port, host: config.host })
    logger.info({ database: database.kind, startupMs: Math.round(performance.now() - startedAt) }, 'deputy is ready')
    // On stdout but outside the logger: the banner may carry the sandbox's admin token, which no
    // log line ever does.
    if (sandbox !== undefined && config.database.kind === 'pglite') {
      process.stdout.write(sandbox.banner({ url: localUrl(config.host, (server.server.address() as AddressInfo).port), dataDir: config.database.dataDir, bootstrapTokenGiven: config.bootstrapAdminToken !== undefined }))
    }

    closeWithGrace({ delay: 10_000, logger: { error: (message: string) => logger.error(message) } }, async ({ signal, err }) => {
      if (err !== undefined) logger.error({ err }, 'closing after an unexpected error')
      else logger.info({ signal }, 'closing: no new connections, finishing in-flight requests')
      await server.close()
    })
    return server
  } catch (error) {
    await sandbox?.close()
    await database.close()
    throw error
  }
}

/** How a client on this machine reaches a server listening on `host`. */
function localUrl (host: string, port: number): string {
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`
}
