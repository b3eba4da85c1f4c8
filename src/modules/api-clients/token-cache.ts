// Resolved API tokens, kept in this process so a request does not pay a database round trip to
// authenticate. Trusted only while revocations are heard: the cache is filled and read only while
// the database's notifications arrive (NOTIFY deputy_api_clients, sent by a trigger on every
// change to a client), emptied whenever they may have been missed, and each entry expires after
// maxAgeMs in any case. Only tokens that authenticated are kept; unknown and revoked tokens are
// looked up every time (and counted by the auth throttle).
import type { Scope } from './scopes.js'

export interface CachedClient {
  id: string
  name: string
  customerId: string | null
  scopes: Scope[]
}

export interface TokenCache {
  /** The client of a token hash, if cached, live and younger than maxAgeMs. */
  get: (tokenHash: string) => CachedClient | undefined
  /** A stamp to take before a lookup and give back to set(). */
  stamp: () => number
  /**
   * Caches a lookup's result, unless the cache was invalidated since `stamp` was taken: a
   * revocation that committed while the lookup was in flight must not be undone by it.
   */
  set: (tokenHash: string, client: CachedClient, stamp: number) => void
  /** Drops every entry of a client (its id as notified). */
  invalidate: (clientId: string) => void
  /** Live while notifications are heard; going either way empties the cache. */
  setLive: (live: boolean) => void
}

export function createTokenCache (options: { maxAgeMs: number, maxEntries?: number, now?: () => number }): TokenCache {
  const { maxAgeMs, maxEntries = 10_000, now = Date.now } = options
  const entries = new Map<string, { client: CachedClient, at: number }>()
  let generation = 0
  let live = false
  const reset = (): void => {
    generation++
    entries.clear()
  }
  return {
    get (tokenHash) {
      if (!live) return undefined
      const entry = entries.get(tokenHash)
      if (entry === undefined) return undefined
      if (now() - entry.at >= maxAgeMs) {
        entries.delete(tokenHash)
        return undefined
      }
      return entry.client
    },
    stamp: () => generation,
    set (tokenHash, client, stamp) {
      if (!live || stamp !== generation) return
      if (entries.size >= maxEntries && !entries.has(tokenHash)) {
        const oldest = entries.keys().next().value
        if (oldest !== undefined) entries.delete(oldest)
      }
      entries.set(tokenHash, { client, at: now() })
    },
    invalidate (clientId) {
      generation++
      for (const [hash, entry] of entries) if (entry.client.id === clientId) entries.delete(hash)
    },
    setLive (value) {
      live = value
      reset()
    }
  }
}
