// The auth throttle: at most AUTH_FAILURE_LIMIT_MAX failed authentications per address per
// window. Past that, authorize() answers 429 auth_throttled to any token not proven from that
// address, before looking it up, so the answer never tells a guess from a valid token. The
// refusals of one window are audited as one auth.throttled event, written when the window ends.
// This file: the interface and the in-memory throttle (one process; also the fallback of the
// shared one in auth-throttle-redis.ts while Redis cannot answer). README, "Rate limits".
import { createHash } from 'node:crypto'
import { isIPv6 } from 'node:net'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { PrismaClient } from '../db/database.js'
import type { RequestMeta } from '../lib/caller.js'
import { AppError } from '../lib/errors.js'
import type { AuditRecorder } from '../modules/audit/audit.recorder.js'
import { bearerToken } from './auth.js'
import { requestMeta } from './request-context.js'

/** How long a token stays proven for an address after its last successful authentication. */
export const PROVEN_TTL_MS = 60 * 60 * 1000
/** Upper bound on remembered (address, token) pairs; the least recently used go first. */
const PROVEN_MAX_ENTRIES = 100_000
/**
 * Upper bound on addresses with an open failure window, so a sender of many addresses (an IPv6
 * block) cannot exhaust memory; past it the oldest window is forgotten (its event still written).
 */
const WINDOWS_MAX_ENTRIES = 100_000

/**
 * The address a limit applies to: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its /64, the
 * smallest block a single subscriber is usually given; otherwise one host could rotate through
 * 2^64 addresses and get a fresh budget with each.
 */
export function addressKey (ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (!isIPv6(ip)) return ip
  const [head = '', tail = ''] = ip.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/** Tokens are only ever held as hashes. */
export const tokenKey = (token: string): string => createHash('sha256').update(token, 'utf8').digest('base64url')

/** The 429 of a throttled address; `retryAfterMs`: until its failure window ends. */
export function authThrottled (max: number, windowMs: number, retryAfterMs: number): AppError {
  const retryAfter = String(Math.max(1, Math.ceil(retryAfterMs / 1000)))
  return new AppError({
    status: 429,
    code: 'auth_throttled',
    title: 'Too many failed authentications',
    detail: `more than ${max} failed authentications from this address within ${windowMs / 1000} s; tokens not yet used successfully from this address are refused for ${retryAfter} s`,
    headers: { 'retry-after': retryAfter }
  })
}

/** The auth throttle, in memory or shared through Redis; auth.ts uses enter() only. */
export interface AuthThrottle {
  /** The rate-limit bucket of a request: its token's once proven from its address, else the address's. */
  bucketOf (request: FastifyRequest): Promise<string>
  /** Counts a rate_limited answer to an address into its throttled window, if it has one. */
  rateLimited (request: FastifyRequest): void
  /**
   * Called by authorize() before the token is looked up. Rejects with 429 auth_throttled when the
   * address has used its failure budget and the token is not proven there. Otherwise the attempt
   * holds a slot until it is settled, so concurrent guesses cannot overshoot the limit.
   */
  enter (request: FastifyRequest, token: string | undefined): Promise<AuthAttempt>
  /** Stops timers and writes what is due; waits for pending writes. */
  close (): Promise<void>
}

/** One authorize() call's place in its address's failure budget; settle it exactly once. */
export interface AuthAttempt {
  /** The token authenticated: it is proven for this address from now on. */
  succeeded: () => void
  /** Authentication failed (missing, unknown or revoked token): it counts against the address. */
  failed: () => void
  /** Gives the slot back without an outcome (e.g. the database failed); a no-op once settled. */
  release: () => void
}

interface AddressWindow {
  address: string
  startedAt: number
  endsAt: number
  failures: number
  /** Authentications of unproven tokens still running: they hold a slot of the budget. */
  pending: number
  /** Requests answered 429 auth_throttled, and 429 rate_limited, while throttled. */
  throttled: number
  rateLimited: number
  first: { at: number, request: RequestMeta, method: string, route: string } | undefined
  lastAt: number
  audited: boolean
}

export interface AuthThrottleOptions {
  max: number
  windowMs: number
  prisma: Pick<PrismaClient, 'auditEvent' | '$queryRawUnsafe'>
  audit: AuditRecorder
  log: Pick<FastifyBaseLogger, 'error'>
  now?: () => number
}

/** The in-memory throttle; also what the shared one falls back to (it mirrors proven tokens here). */
export interface MemoryAuthThrottle extends AuthThrottle {
  /** Synchronous enter(): throws 429 auth_throttled. */
  enterNow (request: FastifyRequest, token: string | undefined): AuthAttempt
  prove (address: string, hash: string): void
  unprove (address: string, hash: string): void
}

export function createAuthThrottle (opts: AuthThrottleOptions): MemoryAuthThrottle {
  const { max, windowMs, prisma, audit, log } = opts
  const now = opts.now ?? Date.now
  const windows = new Map<string, AddressWindow>()
  const proven = new Map<string, number>()
  const timers = new Set<NodeJS.Timeout>()
  const writes = new Set<Promise<void>>()

  function windowOf (address: string): AddressWindow {
    const at = now()
    let current = windows.get(address)
    if (current === undefined || at >= current.endsAt) {
      current = { address, startedAt: at, endsAt: at + windowMs, failures: 0, pending: 0, throttled: 0, rateLimited: 0, first: undefined, lastAt: at, audited: false }
      windows.delete(address)
      windows.set(address, current)
      if (windows.size > WINDOWS_MAX_ENTRIES) {
        const oldest = windows.keys().next().value
        if (oldest !== undefined) windows.delete(oldest)
      }
    }
    return current
  }

  function isProven (address: string, hash: string): boolean {
    const key = `${address} ${hash}`
    const expires = proven.get(key)
    if (expires === undefined) return false
    if (expires > now()) return true
    proven.delete(key)
    return false
  }

  function prove (address: string, hash: string): void {
    const key = `${address} ${hash}`
    // Re-inserted so the map's order stays least recently used first.
    proven.delete(key)
    proven.set(key, now() + PROVEN_TTL_MS)
    if (proven.size > PROVEN_MAX_ENTRIES) {
      const oldest = proven.keys().next().value
      if (oldest !== undefined) proven.delete(oldest)
    }
  }

  // One event per address and window, written once the window is over (or at shutdown) so it
  // carries the final count. JavaScript runs one callback at a time, so concurrent refusals only
  // ever increment the counters of the window object they saw; `audited` makes the write happen
  // once, and a window is dropped from the map when written, so nothing is counted after it.
  function writeEvent (w: AddressWindow): void {
    if (w.audited || w.first === undefined) return
    w.audited = true
    if (windows.get(w.address) === w) windows.delete(w.address)
    const details = {
      address: w.address,
      refused: w.throttled,
      rateLimited: w.rateLimited,
      failedAuthentications: w.failures,
      limit: max,
      windowMs,
      windowStartedAt: new Date(w.startedAt).toISOString(),
      windowEndedAt: new Date(Math.min(now(), w.endsAt)).toISOString(),
      firstRefusedAt: new Date(w.first.at).toISOString(),
      lastRefusedAt: new Date(w.lastAt).toISOString(),
      method: w.first.method,
      route: w.first.route
    }
    const write = audit.record(prisma, { action: 'auth.throttled', outcome: 'denied', actorClientId: null, request: w.first.request, details })
      .then(() => undefined, (error: unknown) => { log.error({ err: error, auditEvent: { action: 'auth.throttled', ...details } }, 'could not write the auth.throttled audit event') })
      .finally(() => { writes.delete(write) })
    writes.add(write)
  }

  function refuse (w: AddressWindow, request: FastifyRequest): AppError {
    const at = now()
    w.throttled++
    w.lastAt = at
    if (w.first === undefined) {
      w.first = { at, request: requestMeta(request), method: request.method, route: request.routeOptions.url ?? request.url }
      const timer = setTimeout(() => { timers.delete(timer); writeEvent(w) }, Math.max(0, w.endsAt - at)).unref()
      timers.add(timer)
    }
    return authThrottled(max, windowMs, w.endsAt - at)
  }

  // Windows that ended without being throttled are forgotten here; throttled ones by writeEvent.
  const sweep = setInterval(() => {
    const at = now()
    for (const [address, w] of windows) if (at >= w.endsAt && w.first === undefined) windows.delete(address)
    for (const [key, expires] of proven) if (expires <= at) proven.delete(key)
  }, windowMs).unref()

  function bucketOf (request: FastifyRequest): string {
    const address = addressKey(request.ip)
    const token = bearerToken(request)
    if (token !== undefined) {
      const hash = tokenKey(token)
      if (isProven(address, hash)) return `token:${hash}`
    }
    return `ip:${address}`
  }

  function enterNow (request: FastifyRequest, token: string | undefined): AuthAttempt {
    const address = addressKey(request.ip)
    const hash = token === undefined ? undefined : tokenKey(token)
    if (hash !== undefined && isProven(address, hash)) {
      let settled = false
      return {
        succeeded: () => { if (!settled) { settled = true; prove(address, hash) } },
        failed: () => {
          if (settled) return
          settled = true
          proven.delete(`${address} ${hash}`)
          windowOf(address).failures++
        },
        release: () => { settled = true }
      }
    }
    const w = windowOf(address)
    if (w.failures + w.pending >= max) throw refuse(w, request)
    w.pending++
    let settled = false
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      w.pending--
      return true
    }
    return {
      succeeded: () => { if (settle() && hash !== undefined) prove(address, hash) },
      failed: () => { if (settle()) w.failures++ },
      release: () => { settle() }
    }
  }

  return {
    bucketOf: async (request) => bucketOf(request),

    rateLimited (request: FastifyRequest): void {
      const w = windows.get(addressKey(request.ip))
      if (w?.first !== undefined && !w.audited && now() < w.endsAt) {
        w.rateLimited++
        w.lastAt = now()
      }
    },

    enter: async (request, token) => enterNow(request, token),
    enterNow,
    prove,
    unprove: (address, hash) => { proven.delete(`${address} ${hash}`) },

    /** Writes the events of throttled windows still open and waits for every pending write. */
    async close (): Promise<void> {
      clearInterval(sweep)
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const w of [...windows.values()]) writeEvent(w)
      await Promise.all([...writes])
    }
  }
}
