// The audit explorer: filters (customer, action, outcome, client, time window) kept in the URL,
// newest-first keyset paging, each event's detail, the integrity of the hash chain, the NDJSON
// export of exactly the current filter, and for a customer the issued/denied chart.
import { useRef, useState } from 'preact/hooks'
import { api, rawFetch, unwrap } from '../api/client'
import { ApiProblem } from '../api/problem'
import type { AuditEvent, AuditQuery } from '../api/types'
import { ProblemMessage } from '../components/problem-message'
import { Clip } from '../components/clip'
import { CustomerPicker } from '../components/customer-picker'
import { StatusBadge } from '../components/status-badge'
import { saveAs } from '../lib/download'
import { utc } from '../lib/format'
import { useAction, useLoad } from '../lib/use-load'
import { href, navigate } from '../router'
import { IssuanceChart } from './audit-chart'

const FILTERS = ['customerId', 'action', 'outcome', 'actorClientId', 'resourceId', 'since', 'until'] as const
const OUTCOMES = ['success', 'failure', 'denied'] as const
const KNOWN_ACTIONS = ['credentials.issued', 'credentials.denied', 'connection.created', 'connection.probe_started', 'connection.probed', 'connection.probe_refused', 'connection.status_changed', 'connection.revoked', 'connection.external_id_rotated', 'external_id.minted', 'external_id.mint_refused', 'external_id.retired', 'customer.created', 'customer.suspended', 'customer.resumed', 'customer.offboarded', 'issuance.frozen', 'issuance.unfrozen', 'api_client.created', 'api_client.revoked', 'auth.failed', 'auth.forbidden', 'auth.throttled', 'access.denied', 'audit.integrity']

/** The API query of the page's URL (only well-formed values; the API validates again). */
export function auditQueryOf (query: URLSearchParams): Omit<AuditQuery, 'cursor' | 'limit' | 'order'> {
  const filter: Record<string, string> = {}
  for (const name of FILTERS) {
    const value = query.get(name)
    if (value !== null && value !== '') filter[name] = value
  }
  return filter as Omit<AuditQuery, 'cursor' | 'limit' | 'order'>
}

export function AuditPage ({ query }: { query: URLSearchParams }) {
  const filter = auditQueryOf(query)
  const cursor = query.get('cursor') ?? undefined
  const key = query.toString()
  const page = useLoad(async () => await unwrap(api.GET('/v1/audit-events', { params: { query: { ...filter, cursor, limit: 50 } } })), [key])
  const names = useCustomerNames(page.data?.items, filter.customerId)
  const [open, setOpen] = useState<string | undefined>()
  const exporter = useAction(async () => {
    const params = new URLSearchParams(filter as Record<string, string>)
    const response = await rawFetch(`/v1/audit-events/export?${params.toString()}`)
    const blob = await response.blob()
    saveAs(`deputy-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`, blob)
    return blob.size
  })

  const apply = (event: Event): void => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const next = new URLSearchParams()
    for (const name of FILTERS) {
      let value = String(form.get(name) ?? '').trim()
      // datetime-local has no zone: the form says UTC, so it is read as UTC.
      if ((name === 'since' || name === 'until') && value !== '') value = new Date(`${value}Z`).toISOString()
      if (value !== '') next.set(name, value)
    }
    navigate(href('audit', next))
  }
  const withCursor = (next: string | undefined): string => {
    const params = new URLSearchParams(query)
    if (next === undefined) params.delete('cursor')
    else params.set('cursor', next)
    return href('audit', params)
  }
  const local = (iso: string | undefined): string => iso === undefined ? '' : iso.slice(0, 16)
  const customerName = (id: string | null): string => id === null ? '—' : names.get(id) ?? id
  const actorName = (id: string | null): string => id === null ? 'deputy' : page.data?.actorNames[id] ?? id

  return (
    <>
      <h1>Audit trail</h1>
      <Integrity />
      <form class='filters' aria-label='Filter events' onSubmit={apply} key={key}>
        <CustomerPicker customerId={filter.customerId} name={filter.customerId === undefined ? undefined : names.get(filter.customerId)} />
        <label class='field'>Action
          <input name='action' list='audit-actions' defaultValue={filter.action ?? ''} maxLength={100} />
          <datalist id='audit-actions'>{KNOWN_ACTIONS.map((a) => <option key={a} value={a} />)}</datalist>
        </label>
        <label class='field'>Outcome
          <select name='outcome'>
            <option value=''>Any</option>
            {OUTCOMES.map((o) => <option key={o} value={o} selected={o === filter.outcome}>{o}</option>)}
          </select>
        </label>
        <label class='field'>Client id<input name='actorClientId' defaultValue={filter.actorClientId ?? ''} spellcheck={false} /></label>
        <label class='field'>Resource id<input name='resourceId' defaultValue={filter.resourceId ?? ''} spellcheck={false} /></label>
        <label class='field'>From (UTC)<input type='datetime-local' name='since' defaultValue={local(filter.since)} /></label>
        <label class='field'>Until (UTC)<input type='datetime-local' name='until' defaultValue={local(filter.until)} /></label>
        <div class='actions'>
          <button type='submit' class='primary'>Apply filters</button>
          <a class='button' href={href('audit')}>Clear</a>
          <button type='button' disabled={exporter.busy} onClick={() => { exporter.run() }}>Export NDJSON</button>
        </div>
      </form>
      <ProblemMessage problem={exporter.problem} />
      {filter.customerId !== undefined && <IssuanceChart customerId={filter.customerId} since={filter.since} until={filter.until} />}
      <ProblemMessage problem={page.problem} />
      {page.data !== undefined && (
        <table class='list events'>
          <caption class='visually-hidden'>Audit events, newest first</caption>
          <thead><tr><th scope='col' class='w-seq'>Seq</th><th scope='col' class='w-date'>When (UTC)</th><th scope='col' class='w-action'>Action</th><th scope='col' class='w-status'>Outcome</th><th scope='col'>Customer</th><th scope='col' class='w-actor'>By</th><th scope='col' class='w-detail'>Detail</th></tr></thead>
          <tbody>
            {page.data.items.length === 0 && <tr><td colSpan={7}>No event matches.</td></tr>}
            {page.data.items.map((event) => (
              <EventRow key={event.seq} event={event} customer={customerName(event.customerId)} actor={actorName(event.actorClientId)} open={open === event.seq} onToggle={() => { setOpen(open === event.seq ? undefined : event.seq) }} />
            ))}
          </tbody>
        </table>
      )}
      <nav class='pager' aria-label='Pages'>
        {cursor !== undefined && <a href={withCursor(undefined)}>Newest</a>}
        {page.data?.nextCursor !== null && page.data?.nextCursor !== undefined && <a href={withCursor(page.data.nextCursor)}>Older events</a>}
      </nav>
    </>
  )
}

function EventRow ({ event, customer, actor, open, onToggle }: { event: AuditEvent, customer: string, actor: string, open: boolean, onToggle: () => void }) {
  return (
    <>
      <tr class={open ? 'open' : ''}>
        <td data-label='Seq'>{event.seq}</td>
        <td data-label='When (UTC)'>{utc(event.occurredAt)}</td>
        <td data-label='Action'><code>{event.action}</code></td>
        <td data-label='Outcome'><StatusBadge status={event.outcome} /></td>
        <td data-label='Customer'><Clip text={customer} /></td>
        <td data-label='By'><Clip text={actor} /></td>
        <td><button type='button' class='link' aria-expanded={open} aria-controls={`event-${event.seq}`} onClick={onToggle}>{open ? 'Hide' : 'Show'} event {event.seq}</button></td>
      </tr>
      {open && (
        <tr id={`event-${event.seq}`} class='event-detail'>
          <td colSpan={7}>
            <dl class='facts'>
              <dt>Event id</dt><dd><code>{event.id}</code></dd>
              <dt>Client</dt><dd>{event.actorClientId === null ? '— (deputy itself, or no valid token)' : <>{actor} <a href={href('audit', new URLSearchParams({ actorClientId: event.actorClientId }))}><code>{event.actorClientId}</code></a></>}</dd>
              <dt>Resource</dt><dd>{event.resourceType ?? '—'} {event.resourceId === null ? '' : <code>{event.resourceId}</code>}</dd>
              <dt>Request id</dt><dd>{event.requestId === null ? '—' : <code>{event.requestId}</code>}</dd>
              <dt>From</dt><dd>{event.sourceIp ?? '—'} {event.userAgent ?? ''}</dd>
            </dl>
            <pre class='code' tabIndex={0} aria-label={`Details of event ${event.seq}`}>{JSON.stringify(event.details, null, 2)}</pre>
          </td>
        </tr>
      )}
    </>
  )
}

/**
 * The names of the customers on the page and of the filter's customer, each asked once while the
 * page is open (GET /v1/customers/{id}; the trail carries ids only).
 */
function useCustomerNames (events: AuditEvent[] | undefined, filtered: string | undefined): Map<string, string> {
  const known = useRef(new Map<string, string>())
  const asked = useRef(new Set<string>())
  const [, setVersion] = useState(0)
  const wanted = [...new Set([...(events ?? []).flatMap((e) => e.customerId === null ? [] : [e.customerId]), ...(filtered === undefined ? [] : [filtered])])]
  for (const id of wanted) {
    if (asked.current.has(id)) continue
    asked.current.add(id)
    unwrap(api.GET('/v1/customers/{customerId}', { params: { path: { customerId: id } } })).then((customer) => {
      known.current.set(id, customer.name)
      setVersion((v) => v + 1)
    }, () => {})
  }
  return known.current
}

// A token without admin is refused the check (and the refusal is audited): ask once per session.
const INTEGRITY_FORBIDDEN = 'deputy.console.integrity-forbidden'

async function askIntegrity (full: boolean) {
  try {
    return await unwrap(api.GET('/v1/audit-events/integrity', { params: { query: { full } } }))
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 403) sessionStorage.setItem(INTEGRITY_FORBIDDEN, '1')
    throw error
  }
}

// A page that mounts twice while the first answer is still on its way shares that one request
// (two would be two audited refusals for a token without admin).
let pendingCheck: ReturnType<typeof askIntegrity> | undefined

function Integrity () {
  const [full, setFull] = useState(false)
  const check = useLoad(async () => {
    if (full) return await askIntegrity(true)
    if (sessionStorage.getItem(INTEGRITY_FORBIDDEN) !== null) return undefined
    pendingCheck ??= askIntegrity(false).finally(() => { pendingCheck = undefined })
    return await pendingCheck
  }, [full])
  if (!check.loading && check.data === undefined && check.problem === undefined) {
    return <section class='integrity' aria-label='Integrity'><p class='muted'>Checking the hash chain needs an admin token: the seals cover every customer's events.</p></section>
  }
  return (
    <section class='integrity' aria-labelledby='integrity-title' aria-live='polite'>
      <h2 id='integrity-title'>Integrity</h2>
      {check.loading && <p aria-busy='true'>Checking the hash chain…</p>}
      {!check.loading && check.data !== undefined && (check.data.ok
        ? <p class='integrity-ok'><StatusBadge status='success' /> The hash chain is intact{check.data.sealedThroughSeq === null ? ' (nothing sealed yet)' : <>, sealed through event <strong>{check.data.sealedThroughSeq}</strong></>}; {check.data.checkedEvents} events checked{full ? ' from the first seal' : ' since the last check'}.</p>
        : <p class='integrity-broken'><StatusBadge status='insecure' /> The trail was altered: the first event that no longer matches is <strong>{check.data.firstInvalidSeq}</strong> ({check.data.reason?.replace(/_/g, ' ')}). {check.data.detail}</p>)}
      {!check.loading && check.problem?.status === 403
        ? <p class='muted'>Checking the hash chain needs an admin token: the seals cover every customer's events.</p>
        : <ProblemMessage problem={check.problem} />}
      {/* Only for a token the check answered (an admin): another would be refused, and audited. */}
      {check.data !== undefined && <button type='button' onClick={() => { if (full) check.reload(); else setFull(true) }}>Recheck the whole chain</button>}
    </section>
  )
}
