// Credentials issued and denied over time for one customer, read from the audit trail (the API
// has no aggregate route: the console pages through the two actions' events, up to a cap it
// states, and counts them into equal time buckets). Drawn as plain SVG, with the numbers also
// available as a table for screen readers and for anyone who would rather read.
import { api, unwrap } from '../api/client'
import type { AuditEvent } from '../api/types'
import { ProblemMessage } from '../components/problem-message'
import { utc } from '../lib/format'
import { useLoad } from '../lib/use-load'

const BUCKETS = 24
const DAY_MS = 24 * 3600 * 1000
/** Events read per action at most (10 pages of 500); past it the chart says it is partial. */
const MAX_EVENTS = 5000
const WIDTH = 720
const HEIGHT = 160
const PAD = { left: 40, right: 8, top: 8, bottom: 24 }

export interface Bucket { start: number, issued: number, denied: number }

/** Counts events into `count` equal buckets over [from, to). */
export function bucketize (issued: AuditEvent[], denied: AuditEvent[], from: number, to: number, count = BUCKETS): Bucket[] {
  const width = Math.max(1, (to - from) / count)
  const buckets: Bucket[] = Array.from({ length: count }, (_, i) => ({ start: from + i * width, issued: 0, denied: 0 }))
  const place = (events: AuditEvent[], key: 'issued' | 'denied'): void => {
    for (const event of events) {
      const index = Math.floor((new Date(event.occurredAt).getTime() - from) / width)
      const bucket = buckets[Math.min(count - 1, Math.max(0, index))]
      if (bucket !== undefined) bucket[key]++
    }
  }
  place(issued, 'issued')
  place(denied, 'denied')
  return buckets
}

async function eventsOf (customerId: string, action: string, since: string, until: string): Promise<{ events: AuditEvent[], partial: boolean }> {
  const events: AuditEvent[] = []
  let cursor: string | undefined
  do {
    const page = await unwrap(api.GET('/v1/audit-events', { params: { query: { customerId, action, since, until, limit: 500, cursor } } }))
    events.push(...page.items)
    cursor = page.nextCursor ?? undefined
  } while (cursor !== undefined && events.length < MAX_EVENTS)
  return { events, partial: cursor !== undefined }
}

export function IssuanceChart ({ customerId, since, until }: { customerId: string, since?: string | undefined, until?: string | undefined }) {
  const data = useLoad(async () => {
    const to = until === undefined ? Date.now() : new Date(until).getTime()
    const from = since === undefined ? to - DAY_MS : new Date(since).getTime()
    const window = { since: new Date(from).toISOString(), until: new Date(to).toISOString() }
    const [issued, denied] = await Promise.all([eventsOf(customerId, 'credentials.issued', window.since, window.until), eventsOf(customerId, 'credentials.denied', window.since, window.until)])
    // Pages come newest first: past the cap, the chart starts at the oldest event counted of the
    // capped kind, so no bucket it draws is missing events.
    const oldest = (read: { events: AuditEvent[], partial: boolean }): number => read.partial ? new Date(read.events.at(-1)?.occurredAt ?? to).getTime() : from
    const start = Math.max(from, oldest(issued), oldest(denied))
    const counted = (events: AuditEvent[]): AuditEvent[] => events.filter((e) => new Date(e.occurredAt).getTime() >= start)
    return { from: start, to, buckets: bucketize(counted(issued.events), counted(denied.events), start, to), partial: issued.partial || denied.partial, totals: { issued: counted(issued.events).length, denied: counted(denied.events).length } }
  }, [customerId, since, until])
  if (data.problem !== undefined) return <ProblemMessage problem={data.problem} />
  if (data.data === undefined) return <p aria-busy='true'>Counting credentials…</p>
  const { from, to, buckets, partial, totals } = data.data
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.issued, b.denied)))
  const plotWidth = WIDTH - PAD.left - PAD.right
  const plotHeight = HEIGHT - PAD.top - PAD.bottom
  const slot = plotWidth / buckets.length
  const bar = Math.max(1, slot / 2 - 1)
  const y = (n: number): number => PAD.top + plotHeight - (n / max) * plotHeight
  const summary = `Credentials for this customer from ${utc(new Date(from).toISOString())} to ${utc(new Date(to).toISOString())}: ${totals.issued} issued, ${totals.denied} denied${partial ? ` (the window is shortened to the newest ${MAX_EVENTS} events of a kind)` : ''}.`
  return (
    <figure class='chart' aria-labelledby='chart-caption'>
      <figcaption id='chart-caption'>
        <strong>Credentials issued and denied</strong> <span class='legend legend-issued'>issued {totals.issued}</span> <span class='legend legend-denied'>denied {totals.denied}</span>
        {partial && <span class='muted'> More than {MAX_EVENTS} events in the window: the chart starts at the oldest of the newest {MAX_EVENTS} counted. Narrow the time window to see earlier.</span>}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role='img' aria-label={summary} class='chart-svg'>
        <line class='axis' x1={PAD.left} y1={PAD.top + plotHeight} x2={WIDTH - PAD.right} y2={PAD.top + plotHeight} />
        <text class='tick' x={PAD.left - 4} y={PAD.top + 8} text-anchor='end'>{max}</text>
        <text class='tick' x={PAD.left - 4} y={PAD.top + plotHeight} text-anchor='end'>0</text>
        <text class='tick' x={PAD.left} y={HEIGHT - 6}>{utc(new Date(from).toISOString())}</text>
        <text class='tick' x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor='end'>{utc(new Date(to).toISOString())}</text>
        {buckets.map((b, i) => {
          const x = PAD.left + i * slot
          return (
            <g key={b.start}>
              {b.issued > 0 && <rect class='bar-issued' x={x + 1} y={y(b.issued)} width={bar} height={PAD.top + plotHeight - y(b.issued)}><title>{`${b.issued} issued from ${utc(new Date(b.start).toISOString())}`}</title></rect>}
              {b.denied > 0 && <rect class='bar-denied' x={x + 1 + bar} y={y(b.denied)} width={bar} height={PAD.top + plotHeight - y(b.denied)}><title>{`${b.denied} denied from ${utc(new Date(b.start).toISOString())}`}</title></rect>}
            </g>
          )
        })}
      </svg>
      <details>
        <summary>The numbers as a table</summary>
        <table class='list'>
          <thead><tr><th scope='col'>From (UTC)</th><th scope='col'>Issued</th><th scope='col'>Denied</th></tr></thead>
          <tbody>{buckets.map((b) => <tr key={b.start}><td>{utc(new Date(b.start).toISOString())}</td><td>{b.issued}</td><td>{b.denied}</td></tr>)}</tbody>
        </table>
      </details>
    </figure>
  )
}
