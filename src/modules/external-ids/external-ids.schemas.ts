// Shapes of the external-ID routes.
import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageOf } from '../../lib/pagination.js'

export const AwsAccountIdSchema = Type.String({ pattern: '^[0-9]{12}$', description: 'A 12-digit AWS account ID.', examples: ['123456789012'] })

export const ExternalIdStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('retired')])

export const ExternalIdSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: "deputy's id for this record." }),
  customerId: Type.String({ format: 'uuid' }),
  awsAccountId: AwsAccountIdSchema,
  externalId: Type.String({ format: 'uuid', description: 'The value the customer puts in the sts:ExternalId condition of their trust policy. Random (UUID v4), unique across all customers, never changed and never reissued.' }),
  status: ExternalIdStatusSchema,
  createdAt: Type.String({ format: 'date-time' }),
  retiredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  retireReason: Type.Union([Type.String(), Type.Null()]),
  predecessorId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Set on a successor minted by a rotation: the external ID it replaces.' })
}, { additionalProperties: false })

export const MintExternalIdSchema = Type.Object({ awsAccountId: AwsAccountIdSchema }, { additionalProperties: false })

export const RetireExternalIdSchema = Type.Object({
  reason: Type.String({ minLength: 3, maxLength: 500, description: 'Why the ID is retired; kept on the record and in the audit trail.' })
}, { additionalProperties: false })

export const ExternalIdParamsSchema = Type.Object({ externalIdId: Type.String({ format: 'uuid' }) })

export const ListExternalIdsQuerySchema = Type.Object({
  awsAccountId: Type.Optional(AwsAccountIdSchema),
  status: Type.Optional(ExternalIdStatusSchema),
  limit: Type.Optional(LimitSchema),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

export const ExternalIdPageSchema = PageOf(ExternalIdSchema)

export type ExternalIdView = Static<typeof ExternalIdSchema>
export type ListExternalIdsQuery = Static<typeof ListExternalIdsQuerySchema>
