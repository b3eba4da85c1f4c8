// Connects the session-reuse cache (session-reuse.ts) to the database's notifications
// (NOTIFY deputy_issuance, sent by triggers as a revocation, retirement, suspension,
// offboarding, client revocation or freeze commits), and proves they arrive, as the token cache
// does: every HEARTBEAT_MS this process notifies itself through the query pool; held sessions
// are handed out only while LISTEN is in place and the last heartbeat came back within
// DEAF_AFTER_MS. Otherwise every request is a fresh issuance.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Database } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import { DEAF_AFTER_MS, HEARTBEAT_MS } from '../api-clients/token-cache.listener.js'
import { createSessionReuse, type Eviction, type SessionReuse } from './session-reuse.js'

export const ISSUANCE_CHANNEL = 'deputy_issuance'
const HEARTBEAT_PREFIX = 'heartbeat:'
const KINDS = new Set(['connection', 'customer', 'external_id', 'client'])

/** A notification's eviction; anything unexpected drops every held session. */
export function evictionOf (payload: string): Eviction {
  const at = payload.indexOf(':')
  const kind = payload.slice(0, at)
  if (at > 0 && KINDS.has(kind)) return { kind: kind as 'connection' | 'customer' | 'external_id' | 'client', id: payload.slice(at + 1) }
  return { kind: 'all' }
}

export async function startSessionReuse (app: FastifyInstance, database: Pick<Database, 'listen' | 'sql'>, metrics: Pick<Metrics, 'credentialReuseListening'>): Promise<SessionReuse> {
  const reuse = createSessionReuse()
  metrics.credentialReuseListening.set(0)
  const heartbeat = `${HEARTBEAT_PREFIX}${randomUUID()}`
  let listening = false
  let heardAt = 0

  const update = (): void => {
    const next = listening && Date.now() - heardAt <= DEAF_AFTER_MS
    if (next === reuse.live) return
    reuse.setLive(next)
    metrics.credentialReuseListening.set(next ? 1 : 0)
    if (!next) app.log.warn('not hearing revocations and freezes (LISTEN deputy_issuance lost, or its heartbeat did not come back): no session is handed out again until it is back')
  }
  const beat = (): void => {
    database.sql.query('SELECT pg_notify($1, $2)', [ISSUANCE_CHANNEL, heartbeat]).catch(() => {})
    update()
  }
  const listener = await database.listen(ISSUANCE_CHANNEL, {
    onNotify: (payload) => {
      if (!payload.startsWith(HEARTBEAT_PREFIX)) {
        reuse.evict(evictionOf(payload))
        return
      }
      if (payload !== heartbeat) return
      heardAt = Date.now()
      update()
    },
    onState: (state) => {
      listening = state
      update()
      if (state) beat()
    },
    onError: (error) => { app.log.warn({ err: error }, 'issuance notification connection failed; reconnecting') }
  })
  const timer = setInterval(beat, HEARTBEAT_MS)
  timer.unref()
  app.addHook('preClose', async () => {
    clearInterval(timer)
    reuse.setLive(false)
    await listener.close()
  })
  return reuse
}
