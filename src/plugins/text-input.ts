// PostgreSQL text cannot hold NUL (U+0000), and JSONB refuses a lone UTF-16 surrogate (which text
// columns would silently turn into U+FFFD): either would fail deep inside a query, or after STS
// has issued a session, or change what was sent. Such input is refused up front, as the caller's
// mistake, in every part of the request the route reads.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { badRequest } from '../lib/errors.js'

const unstorable = (text: string): boolean => text.includes('\u0000') || !text.isWellFormed()

/**
 * No body deputy reads nests deeper than a session policy's condition values (7 levels); JSON
 * deeper than this is refused before anything walks it (the schema validator and JSON.stringify
 * recurse, and 30,000 nested arrays fit in the body limit).
 */
export const MAX_JSON_DEPTH = 32

type Finding = { kind: 'unstorable', pointer: string } | { kind: 'too_deep', pointer: string }

/**
 * Walks iteratively (an explicit stack), so no input can exhaust the call stack. Without
 * `characters`, only the depth is checked.
 */
function findUnstorable (root: unknown, characters = true): Finding | undefined {
  const stack: Array<{ value: unknown, pointer: string, depth: number }> = [{ value: root, pointer: '', depth: 0 }]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, pointer, depth } = next
    if (typeof value === 'string') {
      if (characters && unstorable(value)) return { kind: 'unstorable', pointer }
      continue
    }
    if (typeof value !== 'object' || value === null) continue
    if (depth >= MAX_JSON_DEPTH) return { kind: 'too_deep', pointer }
    // Reversed, so members are checked in document order (the first problem is reported).
    for (const [key, item] of Object.entries(value).reverse()) {
      if (characters && unstorable(key)) return { kind: 'unstorable', pointer: `${pointer}/${key.split('\u0000').join('\\u0000').toWellFormed()}` }
      stack.push({ value: item, pointer: `${pointer}/${key}`, depth: depth + 1 })
    }
  }
  return undefined
}

export default fp(async function textInput (app: FastifyInstance) {
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema
    // Only the parts the route declares (and so reads) are checked for characters; anything else
    // is ignored anyway. A body's depth is checked whatever the route declares: the idempotency
    // fingerprint walks any body it is sent.
    const parts = [['body', schema?.body, request.body], ['querystring', schema?.querystring, request.query], ['params', schema?.params, request.params]] as const
    for (const [part, declared, value] of parts) {
      if (declared === undefined && part !== 'body') continue
      const found = findUnstorable(value, declared !== undefined)
      if (found?.kind === 'too_deep') throw badRequest('invalid_request', `the ${part} nests deeper than ${MAX_JSON_DEPTH} levels (at "${found.pointer.slice(0, 200)}"); no request deputy accepts does`)
      if (found !== undefined) throw badRequest('invalid_character', `the ${part} contains a NUL character (U+0000) or a lone UTF-16 surrogate at "${found.pointer || '/'}"; text may not contain either`)
    }
  })
}, { name: 'text-input' })
