// Shapes of /v1/customers.
import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageOf } from '../../lib/pagination.js'
import { ApiClientSchema } from '../api-clients/api-clients.schemas.js'
import { ConnectionSchema, RevocationImpactSchema } from '../connections/connections.schemas.js'
import { ExternalIdSchema } from '../external-ids/external-ids.schemas.js'

export const CustomerSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  externalRef: Type.Union([Type.String(), Type.Null()], { description: "The vendor's own identifier for this customer; unique." }),
  status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('offboarded')]),
  suspendedBy: Type.Union([Type.Literal('vendor'), Type.Literal('tenant'), Type.Null()], { description: 'While suspended: who imposed it, the vendor or the tenant (a client bound to this customer). A tenant lifts only its own. Null otherwise.' }),
  createdAt: Type.String({ format: 'date-time' })
}, { additionalProperties: false })

export const CreateCustomerSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  externalRef: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$', description: 'Printable ASCII without spaces.' }))
}, { additionalProperties: false })

export const CustomerParamsSchema = Type.Object({ customerId: Type.String({ format: 'uuid' }) })

export const ListCustomersQuerySchema = Type.Object({
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only customers whose name or externalRef contains this text (case-insensitive; no wildcards).' })),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('offboarded')], { description: 'Only customers in this status.' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc', description: '`asc` (the default): oldest first. `desc`: newest first. Pass the same `order` with `cursor`.' })),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

const CustomerPageOnly = PageOf(CustomerSchema)
export const CustomerPageSchema = Type.Object({
  ...CustomerPageOnly.properties,
  total: Type.Integer({ minimum: 0, description: 'How many customers match the filter (search, status) for this token, over every page.' })
})

const ReasonSchema = Type.String({ minLength: 3, maxLength: 500, description: 'Why; kept in the audit trail.' })

export const SuspendCustomerSchema = Type.Object({ reason: ReasonSchema }, { additionalProperties: false })
export const ResumeCustomerSchema = Type.Object({}, { additionalProperties: false })
export const OffboardCustomerSchema = Type.Object({ reason: ReasonSchema }, { additionalProperties: false })

export const OffboardedCustomerSchema = Type.Object({
  customer: CustomerSchema,
  revokedConnections: Type.Array(ConnectionSchema, { description: 'Every connection that was live, now revoked.' }),
  retiredExternalIds: Type.Array(ExternalIdSchema, { description: 'Every external ID that was active, now retired.' }),
  revokedApiClients: Type.Array(ApiClientSchema, { description: 'Every API client bound to this customer that was live, now revoked.' }),
  impact: RevocationImpactSchema
}, { additionalProperties: false })

export type CustomerView = Static<typeof CustomerSchema>
export type CreateCustomerInput = Static<typeof CreateCustomerSchema>
export type OffboardedCustomerView = Static<typeof OffboardedCustomerSchema>
