// Applies Idempotency-Key to routes that opt in with `config: { idempotency: {} }`.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, badRequest } from '../lib/errors.js'
import { PROBLEM_CONTENT_TYPE } from '../lib/problem.js'
import { requestFingerprint, type IdempotencyService } from '../modules/idempotency/idempotency.service.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Opt in to Idempotency-Key; `omit` names response fields never stored (secrets). */
    idempotency?: { omit?: string[] }
  }
  interface FastifyRequest {
    idempotencyKey: string | null
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

const PURGE_INTERVAL_MS = 60 * 60 * 1000

export default fp<{ idempotency: IdempotencyService }>(async function idempotencyPlugin (app: FastifyInstance, opts) {
  const { idempotency } = opts
  app.decorateRequest('idempotencyKey', null)

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
        request.idempotencyKey = key
        return
      case 'mismatch':
        throw new AppError({ status: 422, code: 'idempotency_key_reused', title: 'Unprocessable content', detail: 'this Idempotency-Key was already used with a different request' })
      case 'in_progress':
        throw new AppError({ status: 409, code: 'idempotency_key_in_progress', title: 'Conflict', detail: 'a request with this Idempotency-Key is still being processed; retry shortly', headers: { 'retry-after': '1' } })
      case 'replay':
        return reply
          .code(started.statusCode)
          .type(started.statusCode >= 400 ? PROBLEM_CONTENT_TYPE : 'application/json')
          .header('idempotent-replayed', 'true')
          .send(JSON.stringify(started.body))
    }
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey
    const clientId = request.caller?.actor.clientId
    if (key === null || clientId == null) return payload
    request.idempotencyKey = null
    // Server errors are not final: release the key so a retry runs again.
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await idempotency.release(clientId, key)
      return payload
    }
    const body = JSON.parse(payload) as Record<string, unknown>
    for (const field of request.routeOptions.config.idempotency?.omit ?? []) delete body[field]
    await idempotency.complete(clientId, key, reply.statusCode, body)
    return payload
  })
}, { name: 'idempotency', dependencies: ['auth'] })
