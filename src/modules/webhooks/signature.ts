// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256, keyed with the
// base64-decoded part of a whsec_ secret, over `${webhook-id}.${webhook-timestamp}.${body}`, sent
// as `v1,<base64>`. Pure functions; the key lives only inside a signer's closure, so a config
// object holding the signer prints and serialises without it. deputy only signs: verifying (the
// signature, and the timestamp within 5 minutes against replays) is the receiver's, as README.md
// shows; the tests' receiver (test/helpers/webhook-receiver.ts) does it with code of its own.
import { createHmac } from 'node:crypto'

/** Bytes a decoded secret must have (the Standard Webhooks range). */
export const SECRET_BYTES = { min: 24, max: 64 } as const

const SECRET_FORMAT = /^whsec_([A-Za-z0-9+/]+={0,2})$/

/** The HMAC key of a `whsec_<base64>` secret, or undefined when the text is not one. */
export function decodeWebhookSecret (secret: string): Buffer | undefined {
  const encoded = SECRET_FORMAT.exec(secret)?.[1]
  if (encoded === undefined) return undefined
  const key = Buffer.from(encoded, 'base64')
  // Node's decoder skips what is not base64; a secret must survive the round trip exactly.
  if (key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) return undefined
  if (key.length < SECRET_BYTES.min || key.length > SECRET_BYTES.max) return undefined
  return key
}

/** The webhook-signature header value: `v1,` and the base64 HMAC-SHA256 of id.timestamp.body. */
export function signWebhook (key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

export interface WebhookSigner {
  sign (id: string, timestamp: number, body: string): string
}

/** Signs with a whsec_ secret (undefined when it is not one) without keeping the text anywhere. */
export function createWebhookSigner (secret: string): WebhookSigner | undefined {
  const key = decodeWebhookSecret(secret)
  if (key === undefined) return undefined
  return { sign: (id, timestamp, body) => signWebhook(key, id, timestamp, body) }
}
