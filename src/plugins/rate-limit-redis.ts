// The Redis connection that replicas share their limits through (REDIS_URL), and the request
// limit's store on it: @fastify/rate-limit's own Redis store, falling back to its in-memory store
// whenever Redis cannot answer. A Redis outage never fails a request and never lifts a limit:
// each replica then counts on its own, as without REDIS_URL (README, "Scale-out").
import { createRequire } from 'node:module'
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'

/**
 * A request waits at most this long for Redis before its limits are counted in memory. A limit
 * check is on every request's path, so a hung Redis must cost little; but a replica whose event
 * loop lags (under load) sees every answer late, and must not take that for an outage.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 1000
/**
 * After a failure Redis is left alone for this long, doubled at each failure in a row up to
 * REDIS_RETRY_MAX_MS, so a hung Redis costs one request the timeout now and then, not every request.
 */
export const REDIS_RETRY_AFTER_MS = 1000
export const REDIS_RETRY_MAX_MS = 30_000

export interface LimitsRedis {
  client: Redis
  /** False while Redis is known to be unreachable: use the in-memory fallback without asking. */
  usable (): boolean
  /** Reports a failed command: logged once per outage, and Redis is left alone for a moment. */
  failed (error: unknown): void
  /** Reports an answer: ends an outage that failed() reported (logged once too). */
  answered (): void
  /** Resolves once connected, or after REDIS_CONNECT_WAIT_MS without: deputy starts either way. */
  ready (): Promise<void>
  close (): Promise<void>
}

/** How long start waits for Redis, so the first requests are already counted in it. */
export const REDIS_CONNECT_WAIT_MS = 2000

export function openLimitsRedis (url: string, log: Pick<FastifyBaseLogger, 'error' | 'warn'>): LimitsRedis {
  const client = new Redis(url, {
    // Fail at once instead of queueing while disconnected: the caller falls back to memory.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    // Reconnect for ever, at most every 2 s.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
  })
  let retryAt = 0
  let failures = 0
  let down = false
  const outage = (error: unknown): void => {
    retryAt = Date.now() + Math.min(REDIS_RETRY_MAX_MS, REDIS_RETRY_AFTER_MS * 2 ** Math.min(failures, 15))
    failures++
    if (down) return
    down = true
    // Neither this message nor ioredis's errors name the URL: it may hold a password.
    log.error({ err: error }, 'rate limits: Redis (REDIS_URL) cannot be reached; each replica now counts its limits in its own memory until it can')
  }
  const answered = (): void => {
    if (!down) return
    down = false
    failures = 0
    retryAt = 0
    log.warn('rate limits: Redis (REDIS_URL) answers again; the limits are shared by every replica again')
  }
  // A lost connection is an outage at once, not only when the next reconnection fails.
  const lost = (): void => { outage(new Error('the connection to Redis closed')) }
  client.on('error', outage)
  client.on('close', lost)
  client.on('ready', answered)
  return {
    client,
    usable: () => client.status === 'ready' && Date.now() >= retryAt,
    failed: outage,
    answered,
    async ready () {
      if (client.status === 'ready') return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, REDIS_CONNECT_WAIT_MS).unref()
        function done (): void {
          clearTimeout(timer)
          client.off('ready', done)
          resolve()
        }
        client.once('ready', done)
      })
    },
    async close () {
      client.off('close', lost)
      client.off('error', outage)
      client.on('error', () => {})
      await client.quit().catch(() => { client.disconnect() })
    }
  }
}

type Incr = FastifyRateLimitStore['incr']
interface StoreCtor { new (continueExceeding: boolean, exponentialBackoff: boolean, ...rest: unknown[]): { incr: Incr } }

// @fastify/rate-limit ships its two stores as plain CommonJS modules without typings.
const require = createRequire(import.meta.url)
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as StoreCtor
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as StoreCtor

/** @fastify/rate-limit's Redis store under `keyPrefix`, with its in-memory store while Redis fails. */
export function sharedRateLimitStore (redis: LimitsRedis, keyPrefix: string): FastifyRateLimitStoreCtor {
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    private readonly shared = new RedisStore(false, false, redis.client, keyPrefix)
    private readonly local = new LocalStore(false, false)

    incr (key: string, callback: Parameters<Incr>[1], timeWindow: number, max: number): void {
      if (!redis.usable()) {
        this.local.incr(key, callback, timeWindow, max)
        return
      }
      this.shared.incr(key, (error, result) => {
        if (error === null) {
          redis.answered()
          callback(null, result)
          return
        }
        redis.failed(error)
        this.local.incr(key, callback, timeWindow, max)
      }, timeWindow, max)
    }

    // One limit, one key space: the route-specific prefix the plugin would add says nothing here.
    child (): FastifyRateLimitStore {
      return this
    }
  }
}
