// Audits the refusals services do not audit themselves: a 404 `not_found` answered to an
// authenticated caller. For a client bound to one customer this is how probing for another
// tenant's ids shows up: as `access.denied` events in the prober's own trail. 401 and 403 are
// audited by the auth plugin.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { PrismaClient } from '../db/database.js'
import { AppError } from '../lib/errors.js'
import type { AuditRecorder } from '../modules/audit/audit.recorder.js'

export default fp<{ prisma: PrismaClient, audit: AuditRecorder }>(async function refusalAudit (app: FastifyInstance, { prisma, audit }) {
  app.addHook('onError', async (request, _reply, error) => {
    const caller = request.caller
    if (caller === null || !(error instanceof AppError) || error.code !== 'not_found' || error.audited) return
    const params = (request.params ?? {}) as Record<string, string>
    const [resourceId] = Object.values(params)
    try {
      await audit.record(prisma, {
        action: 'access.denied',
        outcome: 'denied',
        actorClientId: caller.actor.clientId,
        request: caller.request,
        customerId: caller.actor.customerId,
        ...(resourceId === undefined ? {} : { resourceId: resourceId.slice(0, 200) }),
        details: { reason: 'not_found', method: request.method, route: request.routeOptions.url ?? request.url, params }
      })
    } catch (auditError) {
      // The 404 stands either way; a trail that cannot take this row is reported, not hidden.
      request.log.error({ err: auditError }, 'could not audit a not_found refusal')
    }
  })
}, { name: 'refusal-audit', dependencies: ['auth'] })
