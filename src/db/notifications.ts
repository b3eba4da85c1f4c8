// LISTEN for PostgreSQL notifications on a connection of its own. On PostgreSQL the session goes
// to DATABASE_DIRECT_URL (a transaction pooler would hand LISTEN's session to someone else) and
// is re-opened after any failure; while it is down, `listening` is false so that whoever relies
// on the notifications (the API-token cache) stops trusting what it holds.
import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'

export interface NotificationHandlers {
  onNotify: (payload: string) => void
  /** Called with true once LISTEN is in place, with false when notifications may be missed. */
  onState: (listening: boolean) => void
  onError?: (error: Error) => void
}

export interface NotificationListener {
  readonly listening: boolean
  close: () => Promise<void>
}

const RECONNECT_MIN_MS = 250
const RECONNECT_MAX_MS = 10_000

/** Channel names are deputy's own constants; checked anyway since LISTEN takes no parameter. */
function checkChannel (channel: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`)
  return channel
}

export function listenPostgres (url: string, channel: string, handlers: NotificationHandlers): NotificationListener {
  const name = checkChannel(channel)
  let client: pg.Client | undefined
  let listening = false
  let closed = false
  let delayMs = RECONNECT_MIN_MS
  let timer: NodeJS.Timeout | undefined

  const setListening = (value: boolean): void => {
    if (listening === value) return
    listening = value
    handlers.onState(value)
  }
  const retry = (): void => {
    if (closed || timer !== undefined) return
    timer = setTimeout(() => { timer = undefined; connect().catch(() => {}) }, delayMs)
    timer.unref()
    delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS)
  }
  const lost = (session: pg.Client, error?: Error): void => {
    if (client !== session) return
    client = undefined
    setListening(false)
    if (error !== undefined && !closed) handlers.onError?.(error)
    session.end().catch(() => {})
    retry()
  }
  async function connect (): Promise<void> {
    const session = new pg.Client({ connectionString: url, application_name: `deputy-listen-${name}`, keepAlive: true, keepAliveInitialDelayMillis: 10_000 })
    client = session
    session.on('error', (error) => { lost(session, error) })
    session.on('end', () => { lost(session) })
    session.on('notification', (message) => {
      if (message.channel === name) handlers.onNotify(message.payload ?? '')
    })
    try {
      await session.connect()
      await session.query(`LISTEN ${name}`)
      if (closed || client !== session) return
      delayMs = RECONNECT_MIN_MS
      setListening(true)
    } catch (error) {
      lost(session, error as Error)
    }
  }
  connect().catch(() => {})

  return {
    get listening () { return listening },
    async close () {
      closed = true
      clearTimeout(timer)
      const session = client
      client = undefined
      // Closing is not an outage: no onState(false), the owner is going away.
      listening = false
      await session?.end().catch(() => {})
    }
  }
}

/** The embedded database has one connection and one process: PGlite's own listen(). */
export async function listenPglite (pglite: PGlite, channel: string, handlers: NotificationHandlers): Promise<NotificationListener> {
  const unlisten = await pglite.listen(checkChannel(channel), handlers.onNotify)
  let listening = true
  handlers.onState(true)
  return {
    get listening () { return listening },
    async close () {
      listening = false
      await unlisten()
    }
  }
}
