// Idempotency-Key semantics for creating POSTs: the same key with the same request replays the
// first response; with another request it is refused; while the first is still running, a
// second attempt is told to wait. Keys are per API client and kept 24 hours.
import { createHash } from 'node:crypto'
import type { PrismaClient } from '../../db/database.js'
import type { Prisma } from '../../generated/prisma/client.js'
import type { IdempotencyRepository } from './idempotency.repository.js'

export const KEY_TTL_MS = 24 * 60 * 60 * 1000
/** A claim still pending after this long belongs to a request that died; it may be taken over. */
const STALE_CLAIM_MS = 60 * 1000

export type Begin =
  | { kind: 'proceed' }
  | { kind: 'replay', statusCode: number, body: unknown }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' }

function canonical (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
  }
  return value
}

export function requestFingerprint (method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${JSON.stringify(canonical(body ?? null))}`).digest('hex')
}

export function createIdempotencyService (deps: { prisma: PrismaClient, idempotencyRepository: IdempotencyRepository, now?: () => Date }) {
  const { prisma, idempotencyRepository: repo } = deps
  const now = deps.now ?? (() => new Date())

  async function begin (clientId: string, key: string, requestHash: string, attempt = 0): Promise<Begin> {
    const at = now()
    if (await repo.claim(prisma, { clientId, key, requestHash, expiresAt: new Date(at.getTime() + KEY_TTL_MS) })) return { kind: 'proceed' }
    const record = await repo.find(prisma, clientId, key)
    if (record === null) return attempt === 0 ? begin(clientId, key, requestHash, 1) : { kind: 'in_progress' }
    const expired = record.expiresAt < at
    const stale = record.state === 'pending' && record.createdAt.getTime() < at.getTime() - STALE_CLAIM_MS
    if ((expired || stale) && attempt === 0) {
      await repo.remove(prisma, { clientId, key, ...(expired ? { expiredBefore: at } : { state: 'pending', createdBefore: new Date(at.getTime() - STALE_CLAIM_MS) }) })
      return begin(clientId, key, requestHash, 1)
    }
    if (record.requestHash !== requestHash) return { kind: 'mismatch' }
    if (record.state !== 'completed' || record.statusCode === null) return { kind: 'in_progress' }
    return { kind: 'replay', statusCode: record.statusCode, body: record.response }
  }

  return {
    begin: (clientId: string, key: string, requestHash: string) => begin(clientId, key, requestHash),
    async complete (clientId: string, key: string, statusCode: number, body: unknown): Promise<void> {
      await repo.complete(prisma, clientId, key, statusCode, body as Prisma.InputJsonValue)
    },
    async release (clientId: string, key: string): Promise<void> {
      await repo.remove(prisma, { clientId, key, state: 'pending' })
    },
    /** Drops expired keys in batches; safe to run from every replica at once. */
    async purgeExpired (batch = 1000): Promise<number> {
      let total = 0
      for (let n = batch; n === batch; total += n) n = await repo.purgeExpired(prisma, now(), batch)
      return total
    }
  }
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>
