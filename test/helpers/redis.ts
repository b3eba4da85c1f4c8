// Redis for tests: the machine's Redis (127.0.0.1:6379, or $REDIS_URL) under a key prefix of the
// test's own, deleted at teardown; and private redis-server processes that a test may stop, pause
// and start again.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A Redis client on `url`, closed at teardown. */
export function redisClient (t: Test, url = REDIS_URL): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  return client
}

/** Every key under `prefix`, whatever its type. */
export async function keysUnder (client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

/** A key prefix no other test file uses; its keys are deleted when the test ends. */
export function uniquePrefix (t: Test, client: Redis): string {
  const prefix = `deputy-test:${process.pid}:${randomBytes(4).toString('hex')}:`
  t.teardown(async () => {
    const keys = await keysUnder(client, prefix)
    if (keys.length > 0) await client.del(...keys)
  })
  return prefix
}

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export interface PrivateRedis {
  url: string
  /** Kills it: every connection to it drops. */
  stop (): Promise<void>
  /** Starts it again on the same port (empty). */
  start (): Promise<void>
  /** SIGSTOP / SIGCONT: it keeps its connections and answers nothing (a hung server). */
  pause (): void
  resume (): void
}

/** A redis-server of the test's own on a free port, killed at teardown. */
export async function privateRedis (t: Test): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  async function start (): Promise<void> {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    let output = ''
    started.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    for (const deadline = Date.now() + 10_000; !output.includes('Ready to accept connections');) {
      if (started.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  async function stop (): Promise<void> {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    running.kill('SIGCONT')
    running.kill('SIGKILL')
    await once(running, 'exit')
  }
  await start()
  t.teardown(stop)
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') }
  }
}
