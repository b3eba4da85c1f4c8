// Shapes of the audit trail API.
import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema } from '../../lib/pagination.js'

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
  order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], {
    default: 'desc',
    description: '`desc` (the default): newest first, including events not sealed yet; a walk through its pages can pass an event that commits late into a range already read. `asc`: oldest first, only through the sealed horizon (every event up to it has committed or never will), so following `nextCursor` never misses an event.'
  })),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

export const AuditPageSchema = Type.Object({
  items: Type.Array(AuditEventSchema),
  actorNames: Type.Record(Type.String(), Type.String(), { description: 'The name of each API client that acted on this page (`actorClientId` to name), for people reading the trail. Not part of the events: the export and the seals carry ids only.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` (with the same `order`) for the next page. `desc`: null on the last page. `asc`: never null; a page shorter than `limit` means you have reached the sealed horizon: call again later with this cursor for the events sealed since.' })
})

export type AuditQuery = Static<typeof AuditQuerySchema>
export type AuditEventView = Static<typeof AuditEventSchema>

export const AuditExportQuerySchema = Type.Object({
  customerId: Type.Optional(Type.String({ format: 'uuid' })),
  action: AuditQuerySchema.properties.action,
  outcome: AuditQuerySchema.properties.outcome,
  actorClientId: AuditQuerySchema.properties.actorClientId,
  resourceId: AuditQuerySchema.properties.resourceId,
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only events at or after this instant.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Only events before this instant.' })),
  afterSeq: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'Only events after this seq: to resume, pass the `seq` of the last event received.' }))
}, { additionalProperties: false })

export const AuditSealRefSchema = Type.Object({
  id: Type.String({ description: 'The seal (a 64-bit integer as a string).' }),
  fromSeq: Type.String({ description: 'The seal covers the seqs after this one...' }),
  throughSeq: Type.String({ description: '...through this one.' }),
  hash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the previous seal\'s hash and the canonical content of the events covered.' })
}, { additionalProperties: false })

export const AuditExportLineSchema = Type.Object({
  event: AuditEventSchema,
  seal: Type.Union([AuditSealRefSchema, Type.Null()], { description: 'The seal covering the event. The export stops at the sealed horizon, so it is null only when the seal chain was altered (run the integrity check).' })
}, { additionalProperties: false, description: 'One line of the NDJSON export.' })

export const AuditIntegrityQuerySchema = Type.Object({
  full: Type.Optional(Type.Boolean({ description: 'Recheck the whole chain from the first seal (default: only seals after the last one this process verified).' }))
}, { additionalProperties: false })

export const AuditIntegritySchema = Type.Object({
  ok: Type.Boolean(),
  sealedThroughSeq: Type.Union([Type.String(), Type.Null()], { description: 'The end of the chain checked; null when nothing is sealed yet.' }),
  checkedEvents: Type.Integer({ minimum: 0, description: 'Events whose content this check recomputed.' }),
  firstInvalidSeq: Type.Union([Type.String(), Type.Null()], { description: 'The first event that no longer matches its seal.' }),
  reason: Type.Union([Type.Literal('chain_broken'), Type.Literal('event_missing'), Type.Literal('event_unexpected'), Type.Literal('hash_mismatch'), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  sealing: Type.Union([Type.Literal('exact'), Type.Literal('conservative')], { description: '`conservative` when deputy\'s database role cannot see other roles\' transactions (neither superuser nor pg_read_all_stats): the sealer then passes no gap in seq while such a session is connected, so sealing may lag behind; what it seals is still sound.' })
}, { additionalProperties: false })

export type AuditExportQuery = Static<typeof AuditExportQuerySchema>
export type AuditExportLine = Static<typeof AuditExportLineSchema>
export type AuditIntegrityQuery = Static<typeof AuditIntegrityQuerySchema>
export type AuditIntegrityView = Static<typeof AuditIntegritySchema>
