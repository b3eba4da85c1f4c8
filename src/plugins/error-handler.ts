// Turns every error into an RFC 9457 problem+json response. Validation failures list each
// problem; a database that does not answer is 503 database_unavailable with Retry-After;
// unexpected errors are logged and masked as 500 with the request id.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../lib/errors.js'
import { AuditSecretError } from '../modules/audit/audit.recorder.js'
import { PROBLEM_CONTENT_TYPE, problemType } from '../lib/problem.js'

export interface Problem {
  status: number
  code: string
  title: string
  detail: string
  extensions?: Record<string, unknown>
}

function sendProblem (request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: problemType(problem.code),
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
      code: problem.code,
      instance: request.url.split('?')[0],
      requestId: request.id,
      ...problem.extensions
    })
}

/** What a 503 database_unavailable asks callers to wait; /readyz says the same. */
export const DATABASE_RETRY_AFTER_SECONDS = '5'

const FASTIFY_CODES: Record<string, Omit<Problem, 'detail'>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', title: 'Content too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', title: 'Unsupported media type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', title: 'Bad request' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', title: 'Bad request' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', title: 'Bad request' }
}

function fromFastifyError (error: FastifyError): Problem | undefined {
  if (error.validation !== undefined) {
    const where = error.validationContext ?? 'body'
    return {
      status: 400,
      code: 'validation_failed',
      title: 'Validation failed',
      detail: `the ${where} is not valid: ${error.message}`,
      extensions: {
        errors: error.validation.map((v) => {
          const unknownField = v.keyword === 'additionalProperties' ? String((v.params as { additionalProperty?: unknown }).additionalProperty) : undefined
          return unknownField === undefined
            ? { in: where, pointer: v.instancePath, detail: v.message ?? 'is invalid' }
            : { in: where, pointer: `${v.instancePath}/${unknownField}`, detail: 'unknown field' }
        })
      }
    }
  }
  const known = error.code === undefined ? undefined : FASTIFY_CODES[error.code]
  if (known !== undefined) return { ...known, detail: error.message }
  if (error instanceof SyntaxError && error.statusCode === 400 && /forbidden prototype property/.test(error.message)) {
    return { status: 400, code: 'forbidden_property', title: 'Bad request', detail: 'the body uses "__proto__" or "constructor.prototype" as a key, which deputy refuses' }
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return { status: 400, code: 'malformed_json', title: 'Bad request', detail: 'the body is not valid JSON' }
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, code: 'bad_request', title: 'Bad request', detail: error.message }
  }
  return undefined
}

// Prisma's codes for "the database did not answer": cannot reach it (P1001), timed out (P1002,
// P1008), closed the connection (P1017), no pool connection in time (P2024).
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024'])
// The driver adapter's own kinds for the same.
const ADAPTER_UNAVAILABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections'])
const SOCKET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
// pg's own messages when a connection dies or cannot be made (they carry no code).
const PG_CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection terminated due to connection timeout)/

/** A PostgreSQL SQLSTATE that means "not now": connection exceptions (08), shutdown or startup (57P01-57P03), too many connections (53300). */
const unavailableSqlState = (code: unknown): boolean =>
  typeof code === 'string' && (/^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300')

/**
 * True when `error` says the database did not answer (down, restarting, unreachable, out of
 * connections), through Prisma over either adapter or from pg itself, looking through `cause`s:
 * the request may succeed if retried, so the caller gets 503, not 500.
 */
export function isDatabaseUnavailable (error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined, depth = 0; e !== undefined && e !== null && depth < 5; e = e.cause as Record<string, unknown> | undefined, depth++) {
    if (typeof e !== 'object') return false
    const adapter = (e.meta as { driverAdapterError?: { cause?: { kind?: string, originalCode?: string, code?: string } } } | undefined)?.driverAdapterError?.cause
    if (typeof e.code === 'string' && PRISMA_UNAVAILABLE.has(e.code)) return true
    if (adapter !== undefined && (ADAPTER_UNAVAILABLE.has(adapter.kind ?? '') || unavailableSqlState(adapter.originalCode ?? adapter.code))) return true
    if (typeof e.code === 'string' && (SOCKET_UNAVAILABLE.has(e.code) || (typeof e.severity === 'string' && unavailableSqlState(e.code)))) return true
    if (typeof e.message === 'string' && PG_CONNECTION_LOST.test(e.message)) return true
  }
  return false
}

/**
 * Errors the router raises before any route (and so before the error handler and our hooks)
 * runs: a path parameter over Fastify's 100-character limit (414) or a path that is not valid
 * percent-encoding (400). Answered as problem+json like every other error.
 */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
  reply.header('x-request-id', request.id)
  const problem = tooLong
    ? { status: 414, code: 'path_parameter_too_long', title: 'URI too long', detail: 'a path parameter is longer than 100 characters' }
    : { status: 400, code: 'malformed_url', title: 'Bad request', detail: 'the request path is not valid percent-encoding' }
  // No route ran, so the container-credentials route's own dialect is applied here by its path.
  if (/\/container-credentials$/.test(request.url.split('?')[0] ?? '')) {
    reply.status(problem.status).header('cache-control', 'no-store').type('application/json; charset=utf-8')
      .send({ code: problem.code, message: problem.detail, requestId: request.id })
    return
  }
  sendProblem(request, reply, problem)
}

/**
 * The problem an error is answered with, after setting its headers (Retry-After, ...) on the
 * reply and logging what the operator must see. Routes that speak another error dialect (the
 * container-credentials route) reshape this, so every route maps errors the same way.
 */
export function problemOf (error: FastifyError, request: FastifyRequest, reply: FastifyReply): Problem {
  if (error instanceof AppError) {
    for (const [name, value] of Object.entries(error.headers)) reply.header(name, value)
    return { status: error.status, code: error.code, title: error.title, detail: error.message, extensions: error.extensions }
  }
  if (error instanceof AuditSecretError) {
    // Caller input that would put something token-shaped into the append-only trail: the
    // transaction was rolled back before anything was written.
    return { status: 400, code: 'secret_in_request', title: 'Bad request', detail: 'the request carries what looks like a deputy API token; it would be written to the audit trail, so nothing was done' }
  }
  const problem = fromFastifyError(error)
  if (problem !== undefined) return problem
  if (isDatabaseUnavailable(error)) {
    // Logged at warn, once per request: an outage is the operator's to see, not a bug.
    request.log.warn({ err: error }, 'the database did not answer')
    reply.header('retry-after', DATABASE_RETRY_AFTER_SECONDS)
    return {
      status: 503,
      code: 'database_unavailable',
      title: 'Service unavailable',
      detail: 'the database did not answer; retry later'
    }
  }
  request.log.error({ err: error }, 'unexpected error')
  return {
    status: 500,
    code: 'internal_error',
    title: 'Internal server error',
    detail: `an unexpected error occurred; quote request id ${request.id} when reporting it`
  }
}

export default fp(async function errorHandler (app: FastifyInstance) {
  app.setErrorHandler(async (error: FastifyError, request, reply) => sendProblem(request, reply, problemOf(error, request, reply)))

  app.setNotFoundHandler(async (request, reply) =>
    sendProblem(request, reply, { status: 404, code: 'route_not_found', title: 'Not found', detail: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }))
}, { name: 'error-handler' })
