// Which Authorization headers carry a token (RFC 6750 section 2.1: the "Bearer" scheme, case-
// insensitive, then the token): anything else is no token at all, answered 401 without a lookup.
import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { bearerToken } from '../../src/plugins/auth.js'

const token = (authorization: string | undefined): string | undefined => bearerToken({ headers: { authorization } } as unknown as FastifyRequest)

t.test('the Bearer scheme, in any case, with one or more spaces before the token', async (t) => {
  t.equal(token('Bearer dpt_abc.def'), 'dpt_abc.def')
  t.equal(token('bearer dpt_abc'), 'dpt_abc')
  t.equal(token('BEARER   dpt_abc'), 'dpt_abc', 'several spaces')
  t.equal(token('Bearer dpt_abc  '), 'dpt_abc', 'trailing spaces')
  t.equal(token(`Bearer ${'a'.repeat(512)}`), 'a'.repeat(512), 'up to 512 characters')
})

t.test('anything else carries no token', async (t) => {
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'xBearer dpt_abc', 'NotBearer dpt_abc', 'Bearer dpt abc', 'Bearer\tdpt_abc', `Bearer ${'a'.repeat(513)}`, 'Bearer dpt_ä']) {
    t.equal(token(header), undefined, JSON.stringify(header))
  }
})
