// The delivery queues in pg-boss and their retry schedule. Pure: config.ts checks the schedule
// against the queues' retention at start, webhooks.ts creates the queues with it, the relay fills
// them. One queue per endpoint, so a receiver that hangs holds up only its own deliveries.
import { createHash } from 'node:crypto'

/** Endpoint names are 1-63 of [a-z0-9_-] (config.ts): a queue name pg-boss accepts, and no two collide. */
export const queueOf = (endpointName: string): string => `deputy-webhooks.${endpointName}`

/** Where every endpoint's deliveries go after their last failed attempt (no endpoint queue has this name: no dot). */
export const DEAD_LETTER_QUEUE = 'deputy-webhooks-dead-letters'

/**
 * A delivery job holds the audit event's id and nothing else: the worker reads the event from the
 * trail and builds the body when it sends, so whoever can write pg-boss's tables cannot make deputy
 * sign a body of their choosing. The endpoint is the queue's.
 */
export interface DeliveryJob {
  eventId: string
}

/**
 * The job id of one (event, endpoint): a UUID derived from both (version 8, from SHA-256), so
 * inserting the same delivery twice is a no-op in pg-boss (its insert skips a known id).
 */
export function deliveryJobId (eventId: string, endpointName: string): string {
  const hex = createHash('sha256').update(`deputy-webhook-delivery\0${eventId}\0${endpointName}`).digest('hex').slice(0, 32).split('')
  hex[12] = '8'
  hex[16] = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16)
  const h = hex.join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * How long a delivery waiting for its next attempt is kept: pg-boss deletes a job in the created or
 * retry state this long after it was enqueued, whatever its retries, so the whole retry schedule
 * must end well before it (config.ts refuses one that does not).
 */
export const QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
/**
 * The longest retry schedule config.ts accepts: half the retention, so a delivery also survives a
 * week in which no replica delivers (pg-boss down everywhere) before its last attempt.
 */
export const RETRY_SCHEDULE_LIMIT_SECONDS = 7 * 24 * 3600
/** How long a dead-lettered delivery stays in the dead-letter queue for inspection and redrive. */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600

/** A replica that dies mid-attempt leaves the job active; pg-boss counts it failed after this. */
export const expireInSeconds = (timeoutMs: number): number => Math.ceil(timeoutMs / 1000) + 60

export interface RetrySettings {
  maxAttempts: number
  retryDelaySeconds: number
  retryDelayMaxSeconds: number
  timeoutMs: number
  pollIntervalMs: number
}

/**
 * The longest a delivery can take from its enqueueing to the end of its last attempt. pg-boss waits
 * between d·2^(n−1) and d·2^n seconds after the n-th failed attempt (capped at the maximum delay);
 * each attempt may take up to the expiry (a replica that died during it) and wait up to one poll.
 */
export function worstCaseRetrySeconds (settings: RetrySettings): number {
  let total = 0
  for (let n = 1; n < settings.maxAttempts; n++) {
    total += Math.min(settings.retryDelayMaxSeconds, settings.retryDelaySeconds * 2 ** Math.min(16, n))
  }
  return total + settings.maxAttempts * (expireInSeconds(settings.timeoutMs) + settings.pollIntervalMs / 1000)
}
