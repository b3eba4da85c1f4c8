// The auth throttle shared by every replica through Redis (REDIS_URL): the same rules as the
// in-memory one in auth-throttle.ts, with the counters in Redis so that N replicas give an address
// one failure budget, not N. Each step is one Lua script, so it is atomic across replicas.
//
// Keys (all under REDIS_KEY_PREFIX, tokens only as SHA-256 hashes):
//   auth:w:<address>                 hash: the address's current failure window (a address, s start,
//                                    e end, f failures, p pending lookups, t throttled, r rate
//                                    limited, m first refusal, fa/l first and last refusal, done
//                                    written); expires with the window, or a day after it if refused in
//   auth:proven:<address>:<hash>     a token proven from the address; expires after PROVEN_TTL_MS
//   auth:due                         sorted set of throttled windows by end, the audit queue:
//                                    w:<address> (the current window), e:<start>:<address> (in ended)
//   auth:ended                       hash: throttled windows that a newer window replaced before
//                                    their event was written
// Every replica sweeps auth:due every second; taking a window off it is atomic, so exactly one
// replica writes its auth.throttled event, whichever replica refused, and even if those died.
// While Redis cannot answer, each call falls back to this replica's in-memory throttle (never to
// no throttle): README, "Scale-out".
import type { FastifyRequest } from 'fastify'
import type { RequestMeta } from '../lib/caller.js'
import { bearerToken } from './auth.js'
import type { LimitsRedis } from './rate-limit-redis.js'
import { addressKey, authThrottled, PROVEN_TTL_MS, tokenKey, type AuthAttempt, type AuthThrottle, type AuthThrottleOptions, type MemoryAuthThrottle } from './auth-throttle.js'
import { requestMeta } from './request-context.js'

/** How long a throttled window's counts wait in Redis for a replica to write their event. */
export const THROTTLED_WINDOW_RETENTION_MS = 24 * 3600 * 1000
/** How often each replica looks for throttled windows that have ended. */
export const SWEEP_INTERVAL_MS = 1000
const SWEEP_BATCH = 100

// KEYS: 1 window hash, 2 proven key, 3 due set, 4 ended hash.
// ARGV: 1 operation, 2 window ms, 3 limit (or proven ttl), 4 address, 5 retention ms, 6 operand.
const SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, windowMs, limit, address, retain = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local W, V, DUE, ENDED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

-- The address's open window, starting a new one when the last has ended. A throttled window whose
-- event is not written yet is kept in ENDED for the sweep.
local function current ()
  local w = redis.call('HMGET', W, 's', 'e', 'm', 'done')
  if w[1] and now < tonumber(w[2]) then return tonumber(w[1]), tonumber(w[2]) end
  if w[1] and w[3] and not w[4] then
    local id = 'e:' .. w[1] .. ':' .. address
    redis.call('HSET', ENDED, id, cjson.encode(redis.call('HGETALL', W)))
    redis.call('PEXPIRE', ENDED, retain)
    redis.call('ZREM', DUE, 'w:' .. address)
    redis.call('ZADD', DUE, w[2], id)
    redis.call('PEXPIRE', DUE, retain)
  end
  redis.call('DEL', W)
  redis.call('HSET', W, 'a', address, 's', now, 'e', now + windowMs, 'f', 0, 'p', 0, 't', 0, 'r', 0)
  redis.call('PEXPIRE', W, windowMs)
  return now, now + windowMs
end

if op == 'enter' then
  if ARGV[7] == '1' then
    local ttl = redis.call('PTTL', V)
    if ttl > 0 then return {1, ttl} end
  end
  local s, e = current()
  local f = tonumber(redis.call('HGET', W, 'f'))
  local p = tonumber(redis.call('HGET', W, 'p'))
  if f + p >= limit then
    redis.call('HINCRBY', W, 't', 1)
    redis.call('HSET', W, 'l', now)
    if redis.call('HSETNX', W, 'm', ARGV[6]) == 1 then
      redis.call('HSET', W, 'fa', now)
      redis.call('ZADD', DUE, e, 'w:' .. address)
      redis.call('PEXPIRE', DUE, retain)
      redis.call('PEXPIRE', W, e - now + retain)
    end
    return {2, e - now}
  end
  redis.call('HINCRBY', W, 'p', 1)
  return {0, s}
elseif op == 'settle' then
  -- ARGV[6]: the start of the window the attempt entered; ARGV[7]: ok, fail or release.
  if redis.call('HGET', W, 's') == ARGV[6] then
    redis.call('HINCRBY', W, 'p', -1)
    if ARGV[7] == 'fail' then redis.call('HINCRBY', W, 'f', 1) end
  end
  if ARGV[7] == 'ok' then redis.call('SET', V, '1', 'PX', limit) end
  return 0
elseif op == 'fail-proven' then
  redis.call('DEL', V)
  current()
  redis.call('HINCRBY', W, 'f', 1)
  return 0
elseif op == 'rate-limited' then
  local w = redis.call('HMGET', W, 'e', 'm', 'done')
  if w[2] and not w[3] and now < tonumber(w[1]) then
    redis.call('HINCRBY', W, 'r', 1)
    redis.call('HSET', W, 'l', now)
  end
  return 0
elseif op == 'due' then
  return redis.call('ZRANGEBYSCORE', DUE, '-inf', now, 'LIMIT', 0, limit)
elseif op == 'claim' then
  -- ARGV[6]: a member of DUE. Only the replica whose ZREM removes it gets the window's counts.
  local score = redis.call('ZSCORE', DUE, ARGV[6])
  if not score or tonumber(score) > now then return false end
  redis.call('ZREM', DUE, ARGV[6])
  if string.sub(ARGV[6], 1, 2) == 'e:' then
    local counts = redis.call('HGET', ENDED, ARGV[6])
    redis.call('HDEL', ENDED, ARGV[6])
    return counts
  end
  local w = redis.call('HMGET', W, 'm', 'done')
  if not w[1] or w[2] then return false end
  redis.call('HSET', W, 'done', 1)
  return cjson.encode(redis.call('HGETALL', W))
end
return redis.error_reply('unknown operation')
`

type Script = (w: string, v: string, due: string, ended: string, ...args: Array<string | number>) => Promise<unknown>

/** What the first refusal of a window remembers, for its audit event. */
interface FirstRefusal { request: RequestMeta, method: string, route: string }

export interface RedisAuthThrottleOptions extends Pick<AuthThrottleOptions, 'max' | 'windowMs' | 'prisma' | 'audit' | 'log'> {
  link: LimitsRedis
  keyPrefix: string
  /** Used while Redis cannot answer; proven tokens are mirrored into it so they survive an outage. */
  local: MemoryAuthThrottle
}

export function createRedisAuthThrottle (opts: RedisAuthThrottleOptions): AuthThrottle {
  const { link, keyPrefix, max, windowMs, prisma, audit, log, local } = opts
  const client = link.client as typeof link.client & { deputyAuthThrottle?: Script }
  if (client.deputyAuthThrottle === undefined) client.defineCommand('deputyAuthThrottle', { numberOfKeys: 4, lua: SCRIPT })
  const script = (client.deputyAuthThrottle as Script).bind(client)
  const DUE = `${keyPrefix}auth:due`
  const ENDED = `${keyPrefix}auth:ended`
  const windowKey = (address: string): string => `${keyPrefix}auth:w:${address}`
  const provenKey = (address: string, hash: string): string => `${keyPrefix}auth:proven:${address}:${hash}`
  const run = (address: string, proven: string, op: string, ...args: Array<string | number>): Promise<unknown> =>
    script(windowKey(address), proven, DUE, ENDED, op, windowMs, args[0] ?? max, address, THROTTLED_WINDOW_RETENTION_MS, ...args.slice(1))
  // What bucketOf learnt about a request's token, so authorize() need not ask Redis again.
  const provenTtl = new WeakMap<FastifyRequest, number>()
  const pending = new Set<Promise<unknown>>()

  /** Settling never delays the answer; a write that fails leaves the slot held until the window ends (never more attempts). */
  function background (write: Promise<unknown>): void {
    const tracked = write.then(() => { link.answered() }, (error: unknown) => { link.failed(error) }).finally(() => { pending.delete(tracked) })
    pending.add(tracked)
  }

  function attemptOf (request: FastifyRequest, token: string | undefined): { address: string, hash: string | undefined } {
    return { address: addressKey(request.ip), hash: token === undefined ? undefined : tokenKey(token) }
  }

  function provenAttempt (address: string, hash: string, ttl: number): AuthAttempt {
    let settled = false
    return {
      succeeded: () => {
        if (settled) return
        settled = true
        local.prove(address, hash)
        // Refreshed once half its life has passed, not on every request.
        if (ttl < PROVEN_TTL_MS / 2) background(client.set(provenKey(address, hash), '1', 'PX', PROVEN_TTL_MS))
      },
      failed: () => {
        if (settled) return
        settled = true
        local.unprove(address, hash)
        background(run(address, provenKey(address, hash), 'fail-proven'))
      },
      release: () => { settled = true }
    }
  }

  function admittedAttempt (address: string, hash: string | undefined, startedAt: string): AuthAttempt {
    let settled = false
    const settle = (outcome: 'ok' | 'fail' | 'release'): void => {
      if (settled) return
      settled = true
      if (outcome === 'ok' && hash !== undefined) local.prove(address, hash)
      const ok = outcome === 'ok' && hash !== undefined
      background(run(address, hash === undefined ? windowKey(address) : provenKey(address, hash), 'settle', ok ? PROVEN_TTL_MS : max, startedAt, ok ? 'ok' : outcome === 'ok' ? 'release' : outcome))
    }
    return { succeeded: () => { settle('ok') }, failed: () => { settle('fail') }, release: () => { settle('release') } }
  }

  async function writeEvent (member: string, counts: string): Promise<void> {
    const flat = JSON.parse(counts) as string[]
    const w: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) w[flat[i] as string] = flat[i + 1] as string
    const first = JSON.parse(w.m ?? '{}') as FirstRefusal
    const address = w.a ?? ''
    const at = (field: string): string => new Date(Number(w[field])).toISOString()
    const details = {
      address,
      refused: Number(w.t),
      rateLimited: Number(w.r),
      failedAuthentications: Number(w.f),
      limit: max,
      windowMs,
      windowStartedAt: at('s'),
      windowEndedAt: at('e'),
      firstRefusedAt: at('fa'),
      lastRefusedAt: at('l'),
      method: first.method,
      route: first.route
    }
    try {
      await audit.record(prisma, { action: 'auth.throttled', outcome: 'denied', actorClientId: null, request: first.request, details })
    } catch (error) {
      log.error({ err: error, auditEvent: { action: 'auth.throttled', ...details } }, 'could not write the auth.throttled audit event')
    }
  }

  /** Writes the events of throttled windows that have ended, whichever replica refused in them. */
  async function sweep (): Promise<void> {
    if (!link.usable()) return
    try {
      const due = await run('', ENDED, 'due', SWEEP_BATCH) as string[]
      for (const member of due) {
        const address = member.startsWith('w:') ? member.slice(2) : ''
        const counts = await run(address, ENDED, 'claim', max, member) as string | null
        if (counts !== null) await writeEvent(member, counts)
      }
    } catch (error) {
      link.failed(error)
    }
  }
  let sweeping: Promise<void> | undefined
  const timer = setInterval(() => {
    sweeping ??= sweep().finally(() => { sweeping = undefined })
  }, SWEEP_INTERVAL_MS).unref()

  return {
    async bucketOf (request) {
      const token = bearerToken(request)
      if (token === undefined) return `ip:${addressKey(request.ip)}`
      if (!link.usable()) return local.bucketOf(request)
      const { address, hash } = attemptOf(request, token) as { address: string, hash: string }
      try {
        const ttl = await client.pttl(provenKey(address, hash))
        link.answered()
        provenTtl.set(request, ttl)
        return ttl > 0 ? `token:${hash}` : `ip:${address}`
      } catch (error) {
        link.failed(error)
        return local.bucketOf(request)
      }
    },

    rateLimited (request) {
      if (!link.usable()) {
        local.rateLimited(request)
        return
      }
      const address = addressKey(request.ip)
      background(run(address, windowKey(address), 'rate-limited'))
    },

    async enter (request, token) {
      const { address, hash } = attemptOf(request, token)
      const known = provenTtl.get(request)
      if (hash !== undefined && known !== undefined && known > 0) return provenAttempt(address, hash, known)
      if (!link.usable()) return local.enterNow(request, token)
      let answer: [number, number | string]
      try {
        const first: FirstRefusal = { request: requestMeta(request), method: request.method, route: request.routeOptions.url ?? request.url }
        answer = await run(address, hash === undefined ? windowKey(address) : provenKey(address, hash), 'enter', max, JSON.stringify(first), hash === undefined ? '0' : '1') as [number, number | string]
      } catch (error) {
        link.failed(error)
        return local.enterNow(request, token)
      }
      link.answered()
      const [verdict, value] = answer
      if (verdict === 1 && hash !== undefined) return provenAttempt(address, hash, Number(value))
      if (verdict === 2) throw authThrottled(max, windowMs, Number(value))
      return admittedAttempt(address, hash, String(value))
    },

    async close () {
      clearInterval(timer)
      await Promise.all([...pending])
      await sweeping
      // Windows still open stay in Redis: a replica still running (or the next to start) writes
      // their events when they end. Only the in-memory fallback's windows are written now.
      await sweep()
      await local.close()
    }
  }
}
