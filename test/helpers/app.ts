// Builds deputy on a fresh test database with configuration passed in, the way server.ts does
// (same Fastify options, same app plugin), and gives tests an admin token to start from.
// Every response a test receives through app.inject (and so through call) is checked against
// openapi.yaml; a mismatch rejects the inject and fails the test again at teardown.
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { app, fastifyOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { openDatabase, type Database } from '../../src/db/database.js'
import { createLogger } from '../../src/logger.js'
import { openApiValidator } from './openapi-validator.js'
import { createTestDatabase } from './postgres.js'

export const ADMIN_TOKEN = 'dpt_test-admin-token-0123456789abcdefghijklmnopqrstuv'

export interface TestApp {
  app: FastifyInstance
  database: Database
  config: Config
  databaseUrl: string
  /** Every log line the app wrote, raw. */
  logs: string[]
  /** Responses that did not match openapi.yaml (each also rejected its inject). */
  responseViolations: string[]
}

// Apps whose inject() already checks every response, so call() does not check twice.
const validatedApps = new WeakSet<FastifyInstance>()

/** Throws (with method, path, status and the problems) unless the response matches openapi.yaml. */
export function assertResponseMatchesSpec (response: LightMyRequestResponse): void {
  const violation = openApiValidator().violation({
    method: response.raw.req.method ?? 'GET',
    url: response.raw.req.url ?? '/',
    statusCode: response.statusCode,
    headers: response.headers,
    body: response.body
  })
  if (violation !== undefined) throw new Error(violation)
}

/**
 * Replaces app.inject so that every response of the promise form is checked: the one form the
 * suite uses, seen exactly as a client sees it (after every hook, including Fastify's own
 * answers that bypass them). Documentation routes are not operations and are not checked.
 */
function validateInjections (fastify: FastifyInstance, violations: string[]): void {
  const inject = fastify.inject.bind(fastify) as (...args: unknown[]) => unknown
  const checked = (...args: unknown[]): unknown => {
    if (args[0] === undefined || args[1] !== undefined) return inject(...args)
    return (inject(args[0]) as Promise<LightMyRequestResponse>).then((response) => {
      try {
        assertResponseMatchesSpec(response)
      } catch (error) {
        violations.push((error as Error).message)
        throw error
      }
      return response
    })
  }
  fastify.inject = checked as FastifyInstance['inject']
  validatedApps.add(fastify)
}

export async function buildTestApp (t: Test, env: Record<string, string> = {}): Promise<TestApp> {
  return buildTestAppOn(t, await createTestDatabase(t), env)
}

/** Another deputy on an existing test database (a second replica of the first app). */
export async function buildTestAppOn (t: Test, databaseUrl: string, env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, DEPUTY_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'info', DATABASE_POOL_SIZE: '20', ...env })
  const logs: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done() } })
  const database = await openDatabase(config.database)
  const fastify = Fastify(fastifyOptions(config, createLogger(config, sink)))
  await fastify.register(app, { config, database })
  await fastify.ready()
  const responseViolations: string[] = []
  validateInjections(fastify, responseViolations)
  t.teardown(async () => {
    await fastify.close()
    await database.close()
  })
  // Also fails a test that caught the rejected inject (allSettled, .catch).
  t.teardown(() => {
    if (responseViolations.length > 0) throw new Error(`${responseViolations.length} response(s) did not match openapi.yaml:\n${responseViolations.join('\n')}`)
  })
  return { app: fastify, database, config, databaseUrl, logs, responseViolations }
}

export interface CallOptions {
  token?: string | undefined
  body?: unknown
  headers?: Record<string, string>
}

/** app.inject with a bearer token and a JSON body; the response is checked against openapi.yaml. */
export async function call (app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  const response = await app.inject({
    method,
    url,
    headers,
    ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> })
  })
  if (!validatedApps.has(app)) assertResponseMatchesSpec(response)
  return response
}
