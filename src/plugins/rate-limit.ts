// Per-token rate limit (per address for requests without a token). The counters live in this
// process: with several replicas each enforces its own share (see README, "Rate limits").
import { createHash } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { RateLimitConfig } from '../config.js'
import { AppError } from '../lib/errors.js'
import { bearerToken } from './auth.js'

export default fp<RateLimitConfig>(async function rateLimitPlugin (app: FastifyInstance, opts) {
  await app.register(rateLimit, { global: false })
  // An instance-level hook runs before any route's own onRequest hooks, so the limit counts
  // requests that authentication will refuse: guessing tokens is throttled too.
  const limit = app.rateLimit({
    max: opts.max,
    timeWindow: opts.windowMs,
    // Keyed by a hash so raw tokens are never held as map keys.
    keyGenerator: (request) => {
      const token = bearerToken(request)
      return token === undefined ? `ip:${request.ip}` : `token:${createHash('sha256').update(token).digest('base64url')}`
    },
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
