// Connects the API-token cache to the database's notifications (see token-cache.ts), and proves
// they arrive: every HEARTBEAT_MS this process sends itself a notification through the query
// pool (the path revocations take); the cache is live only while LISTEN is in place and the last
// heartbeat came back within DEAF_AFTER_MS. So a listener that hears nothing (a dead connection
// not yet noticed, LISTEN through a transaction pooler, another database) turns the cache off
// within seconds instead of serving until API_TOKEN_CACHE_MAX_AGE_MS.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Database } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import { createTokenCache, type TokenCache } from './token-cache.js'

export const API_CLIENTS_CHANNEL = 'deputy_api_clients'
export const HEARTBEAT_MS = 1000
export const DEAF_AFTER_MS = 3000
/** Client ids are UUIDs, so no notification of the trigger starts with this. */
const HEARTBEAT_PREFIX = 'heartbeat:'

export async function startTokenCache (app: FastifyInstance, database: Pick<Database, 'listen' | 'sql'>, maxAgeMs: number, metrics: Pick<Metrics, 'tokenCacheListening'>): Promise<TokenCache | undefined> {
  metrics.tokenCacheListening.set(0)
  if (maxAgeMs === 0) return undefined
  const cache = createTokenCache({ maxAgeMs })
  const heartbeat = `${HEARTBEAT_PREFIX}${randomUUID()}`
  let listening = false
  let heardAt = 0
  let live = false

  const update = (): void => {
    const next = listening && Date.now() - heardAt <= DEAF_AFTER_MS
    if (next === live) return
    live = next
    cache.setLive(next)
    metrics.tokenCacheListening.set(next ? 1 : 0)
    if (!next) app.log.warn('not hearing API-client revocations (LISTEN connection lost, or its heartbeat did not come back): every token is looked up until it is back')
    else app.log.debug('hearing API-client revocations: the token cache is on')
  }
  const beat = (): void => {
    database.sql.query('SELECT pg_notify($1, $2)', [API_CLIENTS_CHANNEL, heartbeat]).catch(() => {})
    update()
  }
  const listener = await database.listen(API_CLIENTS_CHANNEL, {
    onNotify: (payload) => {
      if (!payload.startsWith(HEARTBEAT_PREFIX)) {
        cache.invalidate(payload)
        // Until this moment this process may still have served the client's cached tokens.
        app.log.debug({ apiClientId: payload }, 'API client changed: its cached tokens are dropped')
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
    onError: (error) => { app.log.warn({ err: error }, 'API-client notification connection failed; reconnecting') }
  })
  const timer = setInterval(beat, HEARTBEAT_MS)
  timer.unref()
  app.addHook('preClose', async () => {
    clearInterval(timer)
    await listener.close()
  })
  return cache
}
