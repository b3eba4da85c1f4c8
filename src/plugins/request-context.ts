// Request ids: accept a well-formed X-Request-Id from the caller or make one, return it on every
// response, and expose the request metadata services store on audit events.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { RequestMeta } from '../lib/caller.js'
import { API_TOKEN } from '../modules/audit/audit.recorder.js'

export const REQUEST_ID_HEADER = 'x-request-id'
// Logged and audited verbatim, so only a safe alphabet and a bounded length are accepted, and
// never anything shaped like an API token (the audit recorder would refuse to write it).
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function genReqId (req: IncomingMessage): string {
  const offered = req.headers[REQUEST_ID_HEADER]
  return typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) && !API_TOKEN.test(offered) ? offered : randomUUID()
}

export function requestMeta (request: FastifyRequest): RequestMeta {
  const agent = request.headers['user-agent']
  return {
    requestId: request.id,
    sourceIp: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null
  }
}

export default fp(async function requestContext (app: FastifyInstance) {
  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id)
  })
}, { name: 'request-context' })
