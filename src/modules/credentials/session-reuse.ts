// Sessions deputy already holds, handed out again to identical requests (CREDENTIAL_REUSE=on):
// one STS call per session instead of per request. Identical means the same connection, client,
// purpose, session policy, managed policies and duration (the source identity and the tags follow
// from those, and a change of the customer's name or reference evicts); a session is
// handed out only while it has at least the lifetime the request asks to keep, and never past
// its own expiry. Concurrent identical requests share one in-flight issuance (singleflight).
//
// The secrets live in this map only: never in the database, never logged. It is trusted only
// while the database's notifications are heard (reuse.listener.ts): revoking a connection or its
// external ID, suspending or offboarding a customer, revoking a client or freezing issuance
// evicts at once on every replica, and losing the notifications empties it. Every hand-out is
// still re-checked and audited in its own statement (issuance.repository.ts).
import { createHash } from 'node:crypto'
import type { TemporaryCredentials } from '../../aws/sts-gateway.js'
import type { SessionTag } from './session-tags.js'

export interface HeldSession {
  credentials: TemporaryCredentials
  assumedRoleArn: string
  sessionName: string
  sourceIdentity: string | null
  /** The credentials.issued event of the AssumeRole that made the session. */
  auditEventId: string
  /** The connection's customer, and the tags the session carries (for the hand-out's event). */
  customerId: string
  tags: SessionTag[]
}

/** Whose session it is: what an eviction names. */
export interface SessionOwner {
  connectionId: string
  customerId: string
  externalIdId: string
  clientId: string
}

export type Eviction =
  | { kind: 'connection' | 'customer' | 'external_id' | 'client', id: string }
  | { kind: 'all' }

interface Entry { session: HeldSession, owner: SessionOwner }

/** The reuse key of a request: a digest, so the map holds no request text. */
export function reuseKey (parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url')
}

export function createSessionReuse (options: { now?: () => number, maxEntries?: number } = {}) {
  const { now = Date.now, maxEntries = 10_000 } = options
  const entries = new Map<string, Entry>()
  const inFlight = new Map<string, Promise<HeldSession | undefined>>()
  let generation = 0
  let live = false

  const remainingMs = (session: HeldSession): number => session.credentials.expiration.getTime() - now()
  const matches = (owner: SessionOwner, eviction: Eviction): boolean => {
    switch (eviction.kind) {
      case 'all': return true
      case 'connection': return owner.connectionId === eviction.id
      case 'customer': return owner.customerId === eviction.id
      case 'external_id': return owner.externalIdId === eviction.id
      case 'client': return owner.clientId === eviction.id
    }
  }

  function keep (key: string, session: HeldSession, owner: SessionOwner): void {
    if (entries.size >= maxEntries && !entries.has(key)) {
      const oldest = entries.keys().next().value
      if (oldest !== undefined) entries.delete(oldest)
    }
    entries.set(key, { session, owner })
  }

  return {
    get live (): boolean { return live },
    /** A held session with at least minRemainingMs left, if any. */
    find (key: string, minRemainingMs: number): HeldSession | undefined {
      if (!live) return undefined
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (remainingMs(entry.session) < minRemainingMs) {
        // Too short for this request; dropped once it has expired.
        if (remainingMs(entry.session) <= 0) entries.delete(key)
        return undefined
      }
      return entry.session
    },
    /** The issuance in flight for this key, if another request started one. */
    inFlight: (key: string): Promise<HeldSession | undefined> | undefined => live ? inFlight.get(key) : undefined,
    /**
     * Runs one fresh issuance as the leader of its key: identical requests that arrive meanwhile
     * wait for its session. The session is kept only if nothing was evicted while it was being
     * issued (a revocation that committed meanwhile must not be undone by it).
     */
    async lead<T> (key: string, owner: SessionOwner, issue: () => Promise<{ session: HeldSession, result: T }>): Promise<T> {
      const stamp = generation
      let settle: (session: HeldSession | undefined) => void = () => {}
      const flight = new Promise<HeldSession | undefined>((resolve) => { settle = resolve })
      if (live) inFlight.set(key, flight)
      try {
        const { session, result } = await issue()
        const kept = live && stamp === generation
        if (kept) keep(key, session, owner)
        settle(kept ? session : undefined)
        return result
      } catch (error) {
        settle(undefined)
        throw error
      } finally {
        if (inFlight.get(key) === flight) inFlight.delete(key)
      }
    },
    /** Drops the held sessions an eviction names (and stops in-flight ones from being kept). */
    evict (eviction: Eviction): void {
      generation++
      for (const [key, entry] of entries) if (matches(entry.owner, eviction)) entries.delete(key)
    },
    /** Drops one key (a hand-out of it was refused). */
    forget (key: string): void { entries.delete(key) },
    /** Live while notifications are heard; going either way empties it. */
    setLive (value: boolean): void {
      live = value
      generation++
      entries.clear()
      inFlight.clear()
    },
    size: (): number => entries.size
  }
}

export type SessionReuse = ReturnType<typeof createSessionReuse>
