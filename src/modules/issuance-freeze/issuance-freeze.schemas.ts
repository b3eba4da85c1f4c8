// Shapes of the emergency-stop routes.
import { Type, type Static } from 'typebox'

export const IssuanceFreezeSchema = Type.Object({
  frozen: Type.Boolean({ description: 'While true, no credentials leave deputy, on any replica.' }),
  reason: Type.Union([Type.String(), Type.Null()]),
  changedAt: Type.String({ format: 'date-time' }),
  changedBy: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The API client that changed it; null for the command line.' })
}, { additionalProperties: false })

export const FreezeSchema = Type.Object({
  reason: Type.String({ minLength: 3, maxLength: 500, description: 'Why issuance stops; kept in the audit trail and given to clients refused issuance (never in /readyz, which only says issuance is frozen).' })
}, { additionalProperties: false })

export const UnfreezeSchema = Type.Object({}, { additionalProperties: false })

export type IssuanceFreezeView = Static<typeof IssuanceFreezeSchema>
