// Idempotency-Key semantics for creating POSTs: the same key with the same request replays the
// first response; with another request it is refused; while the first is still running, a
// second attempt is told to wait. Keys are per API client and kept 24 hours.
import { createHash } from 'node:crypto'
import type { PrismaClient } from '../../db/database.js'
import type { Prisma } from '../../generated/prisma/client.js'
import type { Claim, IdempotencyRepository } from './idempotency.repository.js'

export type { Claim }

export const KEY_TTL_MS = 24 * 60 * 60 * 1000

/**
 * A claim still pending after this long belongs to a request that died; it may be taken over.
 * It must exceed the longest request deputy can serve, or a slow request's retry runs it a second
 * time. The longest is a connection registration or verification: its probe retries call 1 for
 * PROBE_PROPAGATION_WINDOW_MS, then makes up to four STS calls (the last try of call 1, the
 * identity check, calls 2 and 3), each retried within STS_RETRY_BUDGET_MS, whose last attempt can
 * take twice STS_TIMEOUT_MS (connect, then answer). At the largest values config.ts accepts that
 * is 300 s + 4 × (60 s + 2 × 60 s) = 17 min (112 s at the defaults); 30 minutes leaves room for
 * database waits. test/plugins/idempotency.test.ts recomputes the bound from the configuration
 * limits and fails if this constant no longer exceeds it.
 */
export const STALE_CLAIM_MS = 30 * 60 * 1000

export type Begin =
  | { kind: 'proceed', claim: Claim }
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

export function createIdempotencyService (deps: { prisma: PrismaClient, idempotencyRepository: IdempotencyRepository, now?: () => Date, staleClaimMs?: number }) {
  const { prisma, idempotencyRepository: repo } = deps
  const now = deps.now ?? (() => new Date())
  const staleClaimMs = deps.staleClaimMs ?? STALE_CLAIM_MS

  async function begin (clientId: string, key: string, requestHash: string, attempt = 0): Promise<Begin> {
    const at = now()
    const claim: Claim = { clientId, key, createdAt: at }
    if (await repo.claim(prisma, { ...claim, requestHash, expiresAt: new Date(at.getTime() + KEY_TTL_MS) })) return { kind: 'proceed', claim }
    const record = await repo.find(prisma, clientId, key)
    if (record === null) return attempt === 0 ? begin(clientId, key, requestHash, 1) : { kind: 'in_progress' }
    const expired = record.expiresAt < at
    const stale = record.state === 'pending' && record.createdAt.getTime() < at.getTime() - staleClaimMs
    if ((expired || stale) && attempt === 0) {
      // Removes exactly the record judged expired or stale; if a concurrent attempt got there
      // first, the claim below fails and that attempt's claim is reported as in progress.
      if (expired) await repo.removeExpired(prisma, clientId, key, at)
      else await repo.removeClaim(prisma, { clientId, key, createdAt: record.createdAt })
      return begin(clientId, key, requestHash, 1)
    }
    if (record.requestHash !== requestHash) return { kind: 'mismatch' }
    if (record.state !== 'completed' || record.statusCode === null) return { kind: 'in_progress' }
    return { kind: 'replay', statusCode: record.statusCode, body: record.response }
  }

  return {
    begin: (clientId: string, key: string, requestHash: string) => begin(clientId, key, requestHash),
    /**
     * Stores the response on this claim only. False when the claim was taken over meanwhile
     * (it went stale): the later claim's request will store its own response.
     */
    async complete (claim: Claim, statusCode: number, body: unknown): Promise<boolean> {
      const { count } = await repo.complete(prisma, claim, statusCode, body as Prisma.InputJsonValue)
      return count === 1
    },
    /** Drops this claim so a retry runs again; a later claim of the same key is left alone. */
    async release (claim: Claim): Promise<void> {
      await repo.removeClaim(prisma, claim)
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
