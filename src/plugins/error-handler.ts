// Turns every error into an RFC 9457 problem+json response. Validation failures list each
// problem; unexpected errors are logged and masked as 500 with the request id.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../lib/errors.js'
import { AuditSecretError } from '../modules/audit/audit.recorder.js'
import { PROBLEM_CONTENT_TYPE, problemType } from '../lib/problem.js'

interface Problem {
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

/**
 * Errors the router raises before any route (and so before the error handler and our hooks)
 * runs: a path parameter over Fastify's 100-character limit (414) or a path that is not valid
 * percent-encoding (400). Answered as problem+json like every other error.
 */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
  reply.header('x-request-id', request.id)
  sendProblem(request, reply, tooLong
    ? { status: 414, code: 'path_parameter_too_long', title: 'URI too long', detail: 'a path parameter is longer than 100 characters' }
    : { status: 400, code: 'malformed_url', title: 'Bad request', detail: 'the request path is not valid percent-encoding' })
}

export default fp(async function errorHandler (app: FastifyInstance) {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value)
      return sendProblem(request, reply, { status: error.status, code: error.code, title: error.title, detail: error.message, extensions: error.extensions })
    }
    if (error instanceof AuditSecretError) {
      // Caller input that would put something token-shaped into the append-only trail: the
      // transaction was rolled back before anything was written.
      return sendProblem(request, reply, { status: 400, code: 'secret_in_request', title: 'Bad request', detail: 'the request carries what looks like a deputy API token; it would be written to the audit trail, so nothing was done' })
    }
    const problem = fromFastifyError(error)
    if (problem !== undefined) return sendProblem(request, reply, problem)
    request.log.error({ err: error }, 'unexpected error')
    return sendProblem(request, reply, {
      status: 500,
      code: 'internal_error',
      title: 'Internal server error',
      detail: `an unexpected error occurred; quote request id ${request.id} when reporting it`
    })
  })

  app.setNotFoundHandler(async (request, reply) =>
    sendProblem(request, reply, { status: 404, code: 'route_not_found', title: 'Not found', detail: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }))
}, { name: 'error-handler' })
