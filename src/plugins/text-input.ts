// PostgreSQL text cannot hold NUL (U+0000), and JSONB refuses a lone UTF-16 surrogate (which text
// columns would silently turn into U+FFFD): either would fail deep inside a query, or after STS
// has issued a session, or change what was sent. Such input is refused up front, as the caller's
// mistake, in every part of the request the route reads.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { badRequest } from '../lib/errors.js'

const unstorable = (text: string): boolean => text.includes('\u0000') || !text.isWellFormed()

function findUnstorable (value: unknown, pointer: string): string | undefined {
  if (typeof value === 'string') return unstorable(value) ? pointer : undefined
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    if (unstorable(key)) return `${pointer}/${key.split('\u0000').join('\\u0000').toWellFormed()}`
    const found = findUnstorable(item, `${pointer}/${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

export default fp(async function textInput (app: FastifyInstance) {
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema
    if (schema === undefined) return
    // Only the parts the route declares (and so reads); anything else is ignored anyway.
    const parts = [['body', schema.body, request.body], ['querystring', schema.querystring, request.query], ['params', schema.params, request.params]] as const
    for (const [part, declared, value] of parts) {
      if (declared === undefined) continue
      const pointer = findUnstorable(value, '')
      if (pointer !== undefined) throw badRequest('invalid_character', `the ${part} contains a NUL character (U+0000) or a lone UTF-16 surrogate at "${pointer || '/'}"; text may not contain either`)
    }
  })
}, { name: 'text-input' })
