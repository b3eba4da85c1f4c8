// Rate limits, in two layers (see README, "Rate limits"):
// - every request counts against one bucket of RATE_LIMIT_MAX per window: its token's, once that
//   token has authenticated from the caller's address (it is "proven" there); otherwise, with an
//   unknown, revoked, new or missing token alike, the address's. Random tokens therefore share
//   their sender's bucket instead of getting one each.
// - the auth throttle (auth-throttle.ts): at most AUTH_FAILURE_LIMIT_MAX failed authentications
//   per address per window, then 429 auth_throttled for tokens not proven from that address.
// Without REDIS_URL the counters live in this process; with it, in Redis, shared by every replica
// (rate-limit-redis.ts, auth-throttle-redis.ts), with this process's counters as the fallback
// while Redis cannot be reached.
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { RateLimitConfig } from '../config.js'
import type { AuditRecorder } from '../modules/audit/audit.recorder.js'
import { AppError } from '../lib/errors.js'
import { createAuthThrottle, type AuthThrottle, type AuthThrottleOptions } from './auth-throttle.js'

export { addressKey, createAuthThrottle, PROVEN_TTL_MS, type AuthAttempt, type AuthThrottle } from './auth-throttle.js'

export interface RateLimitsOptions {
  settings: RateLimitConfig
  prisma: AuthThrottleOptions['prisma']
  audit: AuditRecorder
  log: Pick<FastifyBaseLogger, 'error' | 'warn' | 'info'>
}

/** Both limits and where their counters live: this process, or Redis (REDIS_URL) shared by every replica. */
export interface RateLimits {
  throttle: AuthThrottle
  /** The request limit's store; undefined: @fastify/rate-limit's own in-memory store. */
  store: FastifyRateLimitStoreCtor | undefined
  /** Waits (boundedly) for the shared store, so a replica's first requests are counted in it. */
  ready (): Promise<void>
  close (): Promise<void>
}

export async function createRateLimits ({ settings, prisma, audit, log }: RateLimitsOptions): Promise<RateLimits> {
  const local = createAuthThrottle({ max: settings.authFailureMax, windowMs: settings.authFailureWindowMs, prisma, audit, log })
  if (settings.redis === undefined) return { throttle: local, store: undefined, ready: async () => {}, close: () => local.close() }
  // Loaded only with REDIS_URL: ioredis alone costs a cold start hundreds of milliseconds here.
  const [{ openLimitsRedis, sharedRateLimitStore }, { createRedisAuthThrottle }] = await Promise.all([import('./rate-limit-redis.js'), import('./auth-throttle-redis.js')])
  const link = openLimitsRedis(settings.redis.url, log)
  const throttle = createRedisAuthThrottle({ link, keyPrefix: settings.redis.keyPrefix, max: settings.authFailureMax, windowMs: settings.authFailureWindowMs, prisma, audit, log, local })
  return {
    throttle,
    store: sharedRateLimitStore(link, `${settings.redis.keyPrefix}rl:`),
    ready: () => link.ready(),
    async close () {
      await throttle.close()
      await link.close()
    }
  }
}

export interface RateLimitOptions extends Pick<RateLimitConfig, 'max' | 'windowMs'> {
  limits: RateLimits
}

export default fp<RateLimitOptions>(async function rateLimitPlugin (app: FastifyInstance, opts) {
  const { throttle, store } = opts.limits
  app.addHook('onClose', async () => { await opts.limits.close() })
  await opts.limits.ready()
  await app.register(rateLimit, { global: false, ...(store === undefined ? {} : { store }) })
  // An instance-level hook runs before any route's own onRequest hooks, so the limit counts
  // requests that authentication will refuse.
  const limit = app.rateLimit({
    max: opts.max,
    timeWindow: opts.windowMs,
    keyGenerator: (request) => throttle.bucketOf(request),
    onExceeded: (request, key) => { if (key.startsWith('ip:')) throttle.rateLimited(request) },
    errorResponseBuilder: (_request, context) => new AppError({
      status: 429,
      code: 'rate_limited',
      title: 'Too many requests',
      detail: `rate limit of ${context.max} requests per ${context.after} exceeded; retry after ${Math.ceil(context.ttl / 1000)} s`,
      headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) }
    })
  })
  app.addHook('onRequest', async function rateLimited (request, reply) {
    if (request.routeOptions.config.rateLimit === false) return
    await limit.call(this, request, reply)
  })
}, { name: 'rate-limit' })
