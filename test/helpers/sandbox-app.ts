// deputy as server.ts builds it in the sandbox (the app plus a running sandbox: the STS emulator
// in-process, emulated customer accounts), on a fresh test database.
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { app, fastifyOptions } from '../../src/app.js'
import { loadConfig, type SandboxConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { createLogger } from '../../src/logger.js'
import { startSandbox, type Sandbox } from '../../src/modules/sandbox/sandbox.js'
import { createTestDatabase } from './postgres.js'

export const sandboxSettings = (): SandboxConfig => {
  const settings = loadConfig({}).sandbox
  if (settings === undefined) throw new Error('the embedded default must be the sandbox')
  return settings
}

export interface SandboxApp { app: FastifyInstance, sandbox: Sandbox, logs: string[] }

/** deputy as server.ts builds it in the sandbox (app + a running sandbox), on a test database. */
export async function buildSandboxApp (t: Test, env: Record<string, string> = {}): Promise<SandboxApp> {
  const sandbox = await startSandbox(sandboxSettings())
  t.teardown(() => sandbox.close())
  const config = loadConfig({ DATABASE_URL: await createTestDatabase(t), LOG_LEVEL: 'info', DRIFT_TICK_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0', ...env })
  const logs: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done() } })
  const database = await openDatabase(config.database)
  const fastify = Fastify(fastifyOptions(config, createLogger(config, sink)))
  await fastify.register(app, { config, database, sandbox })
  await fastify.ready()
  t.teardown(async () => {
    await fastify.close()
    await database.close()
  })
  return { app: fastify, sandbox, logs }
}
