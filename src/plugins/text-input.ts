// PostgreSQL text cannot hold NUL (U+0000): a string with one would fail deep inside a query as
// a 500. Such input is refused up front, as the caller's mistake, wherever it appears.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { badRequest } from '../lib/errors.js'

function findNul (value: unknown, pointer: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? pointer : undefined
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return `${pointer}/${key.split('\u0000').join('\\u0000')}`
    const found = findNul(item, `${pointer}/${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

export default fp(async function textInput (app: FastifyInstance) {
  app.addHook('preValidation', async (request) => {
    for (const [part, value] of [['body', request.body], ['querystring', request.query], ['params', request.params]] as const) {
      const pointer = findNul(value, '')
      if (pointer !== undefined) throw badRequest('invalid_character', `the ${part} contains a NUL character (U+0000) at "${pointer || '/'}"; text may not contain it`)
    }
  })
}, { name: 'text-input' })
