// Connects the API-token cache to the database's notifications (see token-cache.ts): live while
// LISTEN deputy_api_clients is in place, closed with the app before the database.
import type { FastifyInstance } from 'fastify'
import type { Database } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import { createTokenCache, type TokenCache } from './token-cache.js'

export const API_CLIENTS_CHANNEL = 'deputy_api_clients'

export async function startTokenCache (app: FastifyInstance, database: Pick<Database, 'listen'>, maxAgeMs: number, metrics: Pick<Metrics, 'tokenCacheListening'>): Promise<TokenCache | undefined> {
  metrics.tokenCacheListening.set(0)
  if (maxAgeMs === 0) return undefined
  const cache = createTokenCache({ maxAgeMs })
  const listener = await database.listen(API_CLIENTS_CHANNEL, {
    onNotify: (clientId) => { cache.invalidate(clientId) },
    onState: (listening) => {
      cache.setLive(listening)
      metrics.tokenCacheListening.set(listening ? 1 : 0)
      if (!listening) app.log.warn('not hearing API-client revocations (LISTEN connection lost): every token is looked up until it is back')
      else app.log.debug('hearing API-client revocations: the token cache is on')
    },
    onError: (error) => { app.log.warn({ err: error }, 'API-client notification connection failed; reconnecting') }
  })
  app.addHook('preClose', async () => { await listener.close() })
  return cache
}
