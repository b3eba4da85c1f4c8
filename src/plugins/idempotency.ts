// Applies Idempotency-Key to routes that opt in with `config: { idempotency: {} }`.
// Each request completes or releases only its own claim of the key (see the service), and a
// replay is never cacheable: it carries Cache-Control: no-store whatever the original carried.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, badRequest } from '../lib/errors.js'
import { PROBLEM_CONTENT_TYPE } from '../lib/problem.js'
import { requestFingerprint, type Claim, type IdempotencyService } from '../modules/idempotency/idempotency.service.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Opt in to Idempotency-Key; `omit` names response fields never stored (secrets). */
    idempotency?: { omit?: string[] }
  }
  interface FastifyRequest {
    /** This request's claim of its Idempotency-Key, until the response is stored or released. */
    idempotencyClaim: Claim | null
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

const PURGE_INTERVAL_MS = 60 * 60 * 1000

export default fp<{ idempotency: IdempotencyService }>(async function idempotencyPlugin (app: FastifyInstance, opts) {
  const { idempotency } = opts
  app.decorateRequest('idempotencyClaim', null)

  // Expired keys are dropped hourly (and once at start) so the table does not grow for ever.
  const purge = (): void => {
    idempotency.purgeExpired().then(
      (count) => { if (count > 0) app.log.info({ count }, 'purged expired idempotency keys') },
      (error: unknown) => { app.log.warn({ err: error }, 'could not purge expired idempotency keys') })
  }
  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    purge()
    timer = setInterval(purge, PURGE_INTERVAL_MS).unref()
  })
  app.addHook('onClose', async () => { clearInterval(timer) })

  app.addHook('preHandler', async (request, reply) => {
    const settings = request.routeOptions.config.idempotency
    const key = request.headers['idempotency-key']
    if (settings === undefined || key === undefined || request.caller?.actor.clientId == null) return
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1-255 printable ASCII characters')
    }
    const clientId = request.caller.actor.clientId
    const started = await idempotency.begin(clientId, key, requestFingerprint(request.method, request.url, request.body))
    switch (started.kind) {
      case 'proceed':
        request.idempotencyClaim = started.claim
        return
      case 'mismatch':
        throw new AppError({ status: 422, code: 'idempotency_key_reused', title: 'Unprocessable content', detail: 'this Idempotency-Key was already used with a different request' })
      case 'in_progress':
        throw new AppError({ status: 409, code: 'idempotency_key_in_progress', title: 'Conflict', detail: 'a request with this Idempotency-Key is still being processed; retry shortly', headers: { 'retry-after': '1' } })
      case 'replay':
        // A replay answers one client's retry of a POST: never for a cache, and the original
        // may have been a secret-bearing response sent with no-store (API-client creation).
        return reply
          .code(started.statusCode)
          .type(started.statusCode >= 400 ? PROBLEM_CONTENT_TYPE : 'application/json')
          .header('idempotent-replayed', 'true')
          .header('cache-control', 'no-store')
          .header('pragma', 'no-cache')
          .send(JSON.stringify(started.body))
    }
  })

  app.addHook('onSend', async (request, reply, payload) => {
    // `== null`: requests of contexts created before this plugin (Swagger UI) lack the decorator.
    const claim = request.idempotencyClaim
    if (claim == null) return payload
    request.idempotencyClaim = null
    // Server errors are not final: release the key so a retry runs again.
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await idempotency.release(claim)
      return payload
    }
    const body = JSON.parse(payload) as Record<string, unknown>
    for (const field of request.routeOptions.config.idempotency?.omit ?? []) delete body[field]
    if (!await idempotency.complete(claim, reply.statusCode, body)) {
      request.log.warn('the Idempotency-Key claim was taken over while this request ran; its response is not stored for replay')
    }
    return payload
  })
}, { name: 'idempotency', dependencies: ['auth'] })
