// Bearer-token authentication and scope checks. Routes declare what they need with
// `onRequest: app.authorize('customers:read')`; failures are answered 401/403 and audited.
// Every lookup first passes the auth throttle (rate-limit.ts): an address that has failed too
// often gets 429 auth_throttled, without a lookup, for any token not proven from it; those
// refusals are audited together, as one auth.throttled event per address and window.
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { PrismaClient } from '../db/database.js'
import type { Caller } from '../lib/caller.js'
import { AppError, unauthorized } from '../lib/errors.js'
import type { AuditRecorder } from '../modules/audit/audit.recorder.js'
import type { ApiClientsService } from '../modules/api-clients/api-clients.service.js'
import { hasScope, type Scope } from '../modules/api-clients/scopes.js'
import type { AuthThrottle } from './rate-limit.js'
import { requestMeta } from './request-context.js'

declare module 'fastify' {
  interface FastifyInstance {
    authorize: (scope: Scope) => onRequestAsyncHookHandler
  }
  interface FastifyRequest {
    caller: Caller | null
  }
}

export interface AuthOptions {
  prisma: PrismaClient
  apiClients: Pick<ApiClientsService, 'authenticate'>
  audit: AuditRecorder
  throttle: Pick<AuthThrottle, 'enter'>
}

// Each authorize() hook carries the scope it demands, so the route table itself says which
// routes need which scope (the OpenAPI document and the authorization-matrix test read it).
const REQUIRED_SCOPE = Symbol.for('deputy.requiredScope')

/** The scope a route demands, read from its authorize() hook; undefined for public routes. */
export function requiredScopeOf (route: { onRequest?: unknown }): Scope | undefined {
  const hooks = [route.onRequest ?? []].flat() as Array<{ [REQUIRED_SCOPE]?: Scope }>
  return hooks.find((hook) => hook[REQUIRED_SCOPE] !== undefined)?.[REQUIRED_SCOPE]
}

export function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer[ ]+([\x21-\x7e]{1,512})\s*$/i.exec(header)
  return match?.[1]
}

/** The authenticated caller; routes behind authorize() always have one. */
export function callerOf (request: FastifyRequest): Caller {
  if (request.caller === null) throw new Error('route has no authorize() hook')
  return request.caller
}

export default fp<AuthOptions>(async function auth (app: FastifyInstance, opts) {
  const { prisma, apiClients, audit, throttle } = opts
  app.decorateRequest('caller', null)

  async function refuse (request: FastifyRequest, action: 'auth.failed' | 'auth.forbidden', actorClientId: string | null, details: Record<string, unknown>): Promise<void> {
    await audit.record(prisma, {
      action,
      outcome: 'denied',
      actorClientId,
      request: requestMeta(request),
      details: { method: request.method, route: request.routeOptions.url ?? request.url, ...details }
    })
  }

  app.decorate('authorize', (scope: Scope): onRequestAsyncHookHandler => Object.assign(async function authorize (request: FastifyRequest) {
    const token = bearerToken(request)
    const attempt = await throttle.enter(request, token)
    let check: Awaited<ReturnType<typeof apiClients.authenticate>>
    try {
      if (token === undefined) {
        attempt.failed()
        await refuse(request, 'auth.failed', null, { reason: 'missing_token' })
        throw unauthorized('send an API token as "Authorization: Bearer <token>"')
      }
      check = await apiClients.authenticate(token)
      if (!check.ok) {
        attempt.failed()
        await refuse(request, 'auth.failed', check.clientId, { reason: check.reason })
        throw unauthorized(check.reason === 'revoked_token' ? 'this API token has been revoked' : 'this API token is not valid')
      }
      attempt.succeeded()
    } finally {
      attempt.release()
    }
    const { client } = check
    if (!hasScope(client.scopes, scope)) {
      await refuse(request, 'auth.forbidden', client.id, { requiredScope: scope })
      throw new AppError({ status: 403, code: 'insufficient_scope', title: 'Forbidden', detail: `this API token lacks the "${scope}" scope`, extensions: { requiredScope: scope } })
    }
    request.caller = {
      actor: { clientId: client.id, clientName: client.name, customerId: client.customerId, scopes: client.scopes },
      request: requestMeta(request)
    }
  }, { [REQUIRED_SCOPE]: scope }))
}, { name: 'auth' })
