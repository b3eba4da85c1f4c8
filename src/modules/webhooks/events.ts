// Which audit events become webhook notifications, and the JSON body a receiver gets for one.
// Pure: the delivery worker calls webhookBody() on the audit row at each attempt; the row never
// changes (the trail is append-only), so every endpoint and every retry sends the same bytes.

/** The audit actions deputy notifies, by their audit action name (the body's `type`). */
export const NOTIFIED_EVENTS = [
  'connection.status_changed',
  'connection.revoked',
  'customer.suspended',
  'customer.resumed',
  'customer.offboarded',
  'issuance.frozen',
  'issuance.unfrozen'
] as const

export type NotifiedEvent = typeof NOTIFIED_EVENTS[number]

export const isNotifiedEvent = (action: string): action is NotifiedEvent => (NOTIFIED_EVENTS as readonly string[]).includes(action)

/** The columns of an audit event a notification carries. */
export interface NotifiedAuditEvent {
  id: string
  seq: bigint
  occurredAt: Date
  action: string
  outcome: string
  customerId: string | null
  resourceType: string | null
  resourceId: string | null
  details: unknown
}

/**
 * The body: `{ type, timestamp, data }` as the Standard Webhooks payload structure suggests.
 * `data.seq` is the audit trail's order (a string: it is a 64-bit integer); `data.eventId` is
 * also the webhook-id header, so a receiver can deduplicate and look the event up in the trail.
 */
export function webhookBody (event: NotifiedAuditEvent): string {
  return JSON.stringify({
    type: event.action,
    timestamp: event.occurredAt.toISOString(),
    data: {
      eventId: event.id,
      seq: event.seq.toString(),
      customerId: event.customerId,
      resourceType: event.resourceType,
      resourceId: event.resourceId,
      outcome: event.outcome,
      details: event.details
    }
  })
}
