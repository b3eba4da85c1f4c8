// Shapes of the audit trail API.
import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageOf } from '../../lib/pagination.js'

export const AuditOutcomeSchema = Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')])

export const AuditEventSchema = Type.Object({
  seq: Type.String({ description: 'Position in the trail (a 64-bit integer as a string); increases with every event.' }),
  id: Type.String({ format: 'uuid' }),
  occurredAt: Type.String({ format: 'date-time' }),
  actorClientId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  action: Type.String({ examples: ['external_id.minted'] }),
  outcome: AuditOutcomeSchema,
  customerId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  resourceType: Type.Union([Type.String(), Type.Null()]),
  resourceId: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  sourceIp: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown())
}, { additionalProperties: false })

export const AuditQuerySchema = Type.Object({
  customerId: Type.Optional(Type.String({ format: 'uuid' })),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  outcome: Type.Optional(AuditOutcomeSchema),
  actorClientId: Type.Optional(Type.String({ format: 'uuid' })),
  resourceId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only events at or after this instant.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Only events before this instant.' })),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

export const AuditPageSchema = PageOf(AuditEventSchema)

export type AuditQuery = Static<typeof AuditQuerySchema>
export type AuditEventView = Static<typeof AuditEventSchema>
