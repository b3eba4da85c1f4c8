// Request and response shapes of /v1/api-clients.
import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageOf } from '../../lib/pagination.js'
import { SCOPES } from './scopes.js'

export const ScopeSchema = Type.Enum(SCOPES, { type: 'string', description: '`admin` implies all other scopes.' })

export const ApiClientSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  scopes: Type.Array(ScopeSchema),
  customerId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Set when the client is bound to one customer.' }),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
}, { additionalProperties: false })

export const CreatedApiClientSchema = Type.Object({
  ...ApiClientSchema.properties,
  token: Type.Optional(Type.String({ description: 'The bearer token. Shown once, in the first response only; an idempotent replay omits it.' }))
}, { additionalProperties: false })

export const CreateApiClientSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  scopes: Type.Array(ScopeSchema, { minItems: 1, uniqueItems: true }),
  customerId: Type.Optional(Type.String({ format: 'uuid', description: 'Bind the client to this customer. Not allowed with `admin`.' }))
}, { additionalProperties: false })

export const ApiClientParamsSchema = Type.Object({ apiClientId: Type.String({ format: 'uuid' }) })

export const ListApiClientsQuerySchema = Type.Object({
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

export const ApiClientPageSchema = PageOf(ApiClientSchema)

export type ApiClientView = Static<typeof ApiClientSchema>
export type CreateApiClientInput = Static<typeof CreateApiClientSchema>
