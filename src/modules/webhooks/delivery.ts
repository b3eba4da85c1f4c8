// The delivery worker of one endpoint: for each job, reads the audit event the job names, builds
// the body from it, POSTs it signed as Standard Webhooks says, and tells pg-boss whether the
// attempt failed. pg-boss retries a failed one with exponential backoff and, after its last
// attempt, moves it to the dead-letter queue. The job holds only an event id: deputy signs what its
// audit trail says, never a body found in pg-boss's tables, and a job that names no event this
// endpoint is notified of is dropped unsent. Logs and metrics name the endpoint this worker was
// built for (a configured one), never its URL (it may carry a token) or its secret.
import type { FastifyBaseLogger } from 'fastify'
import type { JobResult, JobWithMetadata } from 'pg-boss'
import type { WebhookEndpoint } from '../../config.js'
import type { Metrics } from '../../metrics.js'
import { isNotifiedEvent, webhookBody, type NotifiedAuditEvent } from './events.js'
import type { DeliveryJob } from './queues.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface DeliveryDeps {
  endpoint: WebhookEndpoint
  /** The audit event with this id, or null. */
  findEvent: (id: string) => Promise<NotifiedAuditEvent | null>
  /** How long one attempt may take, connection to last byte of the answer's head. */
  timeoutMs: number
  metrics: Pick<Metrics, 'webhookDeliveries' | 'webhookDeliveryLag'>
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>
}

class DeliveryFailure extends Error {
  override name = 'DeliveryFailure'
}

/** Why an attempt failed, in words that hold no URL, header or secret. */
function reasonOf (error: unknown, timeoutMs: number): string {
  if (error instanceof DeliveryFailure) return error.message
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs} ms`
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code
  return typeof code === 'string' ? `could not connect (${code})` : 'could not connect'
}

export function createWebhookDelivery (deps: DeliveryDeps) {
  const { endpoint, findEvent, timeoutMs, metrics, log } = deps
  const name = endpoint.name

  /** One attempt; resolves on a 2xx answer, throws otherwise. */
  async function post (event: NotifiedAuditEvent, signal: AbortSignal): Promise<void> {
    const body = webhookBody(event)
    const timestamp = Math.floor(Date.now() / 1000)
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'deputy-webhooks',
        'webhook-id': event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': endpoint.signer.sign(event.id, timestamp, body)
      },
      body,
      // A redirect would carry a signed event somewhere nobody configured: it counts as a failure.
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), signal])
    })
    await response.body?.cancel().catch(() => {})
    if (response.status < 200 || response.status > 299) throw new DeliveryFailure(`answered HTTP ${response.status}`)
  }

  /** Why this job must not be sent, or the event to send. */
  async function eventOf (eventId: string | undefined): Promise<NotifiedAuditEvent | string> {
    if (eventId === undefined) return 'its data names no audit event id'
    let event: NotifiedAuditEvent | null
    try {
      event = await findEvent(eventId)
    } catch {
      throw new DeliveryFailure('could not read its audit event from the database')
    }
    if (event === null) return 'no audit event has its id'
    if (!isNotifiedEvent(event.action) || !endpoint.events.includes(event.action)) return `its audit event is not one this endpoint is notified of (${event.action})`
    return event
  }

  async function deliver (job: JobWithMetadata<DeliveryJob>): Promise<JobResult> {
    const given: unknown = (job.data as Partial<DeliveryJob> | null)?.eventId
    const eventId = typeof given === 'string' && UUID.test(given) ? given : undefined
    try {
      const event = await eventOf(eventId)
      if (typeof event === 'string') {
        // Only deputy's relay writes these jobs: one like this was written by someone else.
        metrics.webhookDeliveries.inc({ endpoint: name, result: 'dropped' })
        log.error({ endpoint: name, jobId: job.id, reason: event }, 'webhook delivery job dropped, nothing sent: it does not name an audit event this endpoint is notified of (was pg-boss\'s job table written by something other than deputy?)')
        return { id: job.id, status: 'completed', output: { dropped: event } }
      }
      await post(event, job.signal)
      metrics.webhookDeliveries.inc({ endpoint: name, result: 'delivered' })
      metrics.webhookDeliveryLag.observe({ endpoint: name }, Math.max(0, (Date.now() - event.occurredAt.getTime()) / 1000))
      return { id: job.id, status: 'completed' }
    } catch (error) {
      // pg-boss aborts the attempts still in flight when deputy stops, after failing them itself.
      const reason = job.signal.aborted ? 'interrupted: this replica stopped' : reasonOf(error, timeoutMs)
      const attempt = job.retryCount + 1
      const last = job.retryCount >= job.retryLimit
      metrics.webhookDeliveries.inc({ endpoint: name, result: last ? 'dead_lettered' : 'failed' })
      log.warn({ endpoint: name, eventId, attempt, maxAttempts: job.retryLimit + 1, reason },
        last ? 'webhook delivery failed for the last time; it is in the dead-letter queue' : 'webhook delivery failed; it will be retried')
      return { id: job.id, status: 'failed', output: { reason, attempt } }
    }
  }

  return {
    /** The pg-boss handler (perJobResults; batches of one, several workers per endpoint). */
    async handle (jobs: Array<JobWithMetadata<DeliveryJob>>): Promise<JobResult[]> {
      return Promise.all(jobs.map(deliver))
    }
  }
}

export type WebhookDelivery = ReturnType<typeof createWebhookDelivery>
