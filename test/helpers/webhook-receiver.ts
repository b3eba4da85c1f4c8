// A webhook receiver for tests: a real HTTP server that records every delivery attempt and checks
// its signature with its own implementation of the algorithm README.md documents (sharing no code
// with deputy), and answers what the test tells it to (503 for an outage).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export const newSecret = (bytes = 32): string => `whsec_${randomBytes(bytes).toString('base64')}`

export interface Attempt {
  id: string
  timestamp: string
  body: string
  /** Checked by this file's own implementation of the README's algorithm. */
  valid: boolean
  /** What the receiver answered (0: nothing). */
  status: number
  at: number
}

/**
 * A receiver's check, written from the README and the Standard Webhooks spec, sharing no code
 * with deputy: key = base64 after whsec_, HMAC-SHA256 over id.timestamp.body, `v1,<base64>`
 * among the space-separated signatures, and a timestamp no more than 5 minutes old.
 */
export function receiverVerifies (secret: string, headers: IncomingHttpHeaders, body: string, nowSeconds = Date.now() / 1000): boolean {
  const id = headers['webhook-id']
  const timestamp = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false
  if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'))
  return signatures.split(' ').some((entry) => {
    const [version, signature = ''] = entry.split(',')
    const given = Buffer.from(signature)
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected)
  })
}

export async function startReceiver (t: Test, secret: string) {
  const attempts: Attempt[] = []
  // A status code, or 'hang': never answer (a timeout on deputy's side).
  let status: number | 'hang' = 204
  let headers: Record<string, string> = {}
  // Requests left unanswered while hanging, answered by the next answer() with a status.
  const hung: Array<{ end: () => void }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const valid = req.method === 'POST' && req.headers['content-type'] === 'application/json' && receiverVerifies(secret, req.headers, body)
      attempts.push({ id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), body, valid, status: status === 'hang' ? 0 : status, at: Date.now() })
      if (status !== 'hang') res.writeHead(status, headers).end()
      else hung.push({ end: () => { if (!res.destroyed && !res.headersSent && typeof status === 'number') res.writeHead(status).end() } })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/deputy?token=url-token-0123456789`,
    attempts,
    /** What the receiver answers from now on (503: an outage; 'hang': nothing), also to the requests it left hanging. */
    answer (code: number | 'hang', withHeaders: Record<string, string> = {}) {
      status = code
      headers = withHeaders
      if (code !== 'hang') for (const request of hung.splice(0)) request.end()
    },
    /** Requests the receiver is leaving unanswered now. */
    hanging: () => hung.length,
    delivered: () => attempts.filter((a) => a.status >= 200 && a.status < 300),
    async until (what: string, done: () => boolean, timeoutMs = 8000): Promise<void> {
      const deadline = Date.now() + timeoutMs
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the receiver saw ${JSON.stringify(attempts.map((a) => ({ id: a.id, status: a.status, type: (JSON.parse(a.body) as { type: string }).type })))}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
}

export interface WebhookBody { type: string, timestamp: string, data: { eventId: string, seq: string, customerId: string | null, resourceType: string | null, resourceId: string | null, outcome: string, details: Record<string, unknown> } }
