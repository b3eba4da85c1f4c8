// Builds deputy on a fresh test database with configuration passed in, the way server.ts does
// (same Fastify options, same app plugin), and gives tests an admin token to start from.
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { app, fastifyOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { openDatabase, type Database } from '../../src/db/database.js'
import { createLogger } from '../../src/logger.js'
import { createTestDatabase } from './postgres.js'

export const ADMIN_TOKEN = 'dpt_test-admin-token-0123456789abcdefghijklmnopqrstuv'

export interface TestApp {
  app: FastifyInstance
  database: Database
  config: Config
  databaseUrl: string
  /** Every log line the app wrote, raw. */
  logs: string[]
}

export async function buildTestApp (t: Test, env: Record<string, string> = {}): Promise<TestApp> {
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'info', DATABASE_POOL_SIZE: '20', ...env })
  const logs: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done() } })
  const database = await openDatabase(config.database)
  const fastify = Fastify(fastifyOptions(config, createLogger(config, sink)))
  await fastify.register(app, { config, database })
  await fastify.ready()
  t.teardown(async () => {
    await fastify.close()
    await database.close()
  })
  return { app: fastify, database, config, databaseUrl, logs }
}

export interface CallOptions {
  token?: string | undefined
  body?: unknown
  headers?: Record<string, string>
}

/** app.inject with a bearer token and a JSON body. */
export async function call (app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  return app.inject({
    method,
    url,
    headers,
    ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> })
  })
}
