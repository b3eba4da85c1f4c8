// Builds the OpenAPI document from the route schemas without a database or a listening socket.
// `npm run openapi` writes it to openapi.yaml; a test fails when the committed file differs.
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import { PrismaPg } from '@prisma/adapter-pg'
import { stringify } from 'yaml'
import { app, fastifyOptions } from './app.js'
import { loadConfig } from './config.js'
import type { Database } from './db/database.js'
import { prismaSqlClient } from './db/sql-client.js'
import { PrismaClient } from './generated/prisma/client.js'
import { createLogger } from './logger.js'

/**
 * The app with every route a deployment serves, over a database it never connects to. No
 * sandbox is passed, so the sandbox-only route (src/modules/sandbox/) is not in openapi.yaml,
 * the contract of every deployment: a sandbox documents it in its own /openapi.json and /docs.
 */
export async function buildAppForSpec (onRoute?: (route: RouteOptions) => void): Promise<FastifyInstance> {
  const config = loadConfig({ LOG_LEVEL: 'silent' })
  // Prisma connects lazily: building routes never touches this unreachable database.
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: 'postgresql://openapi@127.0.0.1:1/none' }) })
  const database: Database = { kind: 'postgres', prisma, sql: prismaSqlClient(prisma), listen: async () => ({ listening: false, close: async () => {} }), ping: async () => {}, migrate: async () => ({ applied: [], alreadyApplied: [] }), close: async () => {} }
  const fastify = Fastify(fastifyOptions(config, createLogger(config)))
  if (onRoute !== undefined) fastify.addHook('onRoute', onRoute)
  await fastify.register(app, { config, database })
  await fastify.ready()
  return fastify
}

export async function buildOpenApiYaml (): Promise<string> {
  const fastify = await buildAppForSpec()
  const document = fastify.swagger()
  await fastify.close()
  return stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 })
}
