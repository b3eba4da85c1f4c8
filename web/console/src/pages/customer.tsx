// One customer: its status and lifecycle actions, its external IDs and connections, and the
// way into the onboarding wizard.
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import type { Customer, OffboardedCustomer } from '../api/types'
import { Clamp } from '../components/clip'
import { ConfirmDialog } from '../components/confirm-dialog'
import { ProblemMessage } from '../components/problem-message'
import { RevocationImpact } from '../components/revocation-impact'
import { StatusBadge } from '../components/status-badge'
import { relative, utc } from '../lib/format'
import { useAction, useLoad } from '../lib/use-load'
import { href } from '../router'

type Lifecycle = 'suspend' | 'resume' | 'offboard'

export function CustomerPage ({ customerId }: { customerId: string }) {
  const customer = useLoad(async () => await unwrap(api.GET('/v1/customers/{customerId}', { params: { path: { customerId } } })), [customerId])
  const externalIds = useLoad(async () => await unwrap(api.GET('/v1/customers/{customerId}/external-ids', { params: { path: { customerId }, query: { limit: 100 } } })), [customerId])
  const connections = useLoad(async () => await unwrap(api.GET('/v1/customers/{customerId}/connections', { params: { path: { customerId }, query: { limit: 100 } } })), [customerId])
  const [offboarded, setOffboarded] = useState<OffboardedCustomer | undefined>()
  const suspension = useSuspension(customerId, customer.data?.status)

  if (customer.problem !== undefined) return <><h1>Customer</h1><ProblemMessage problem={customer.problem} /></>
  if (customer.data === undefined) return <p aria-busy='true'>Loading…</p>
  const c = customer.data
  const reloadAll = (): void => { customer.reload(); externalIds.reload(); connections.reload() }
  return (
    <>
      <h1 tabIndex={-1}><Clamp text={c.name} /> <StatusBadge status={c.status} /></h1>
      {suspension !== undefined && <p class='suspension'>Suspended {utc(suspension.at)} by {suspension.by}: “{suspension.reason}”.</p>}
      <dl class='facts'>
        <dt>deputy id</dt><dd><code>{c.id}</code></dd>
        <dt>Your reference</dt><dd>{c.externalRef ?? '—'}</dd>
        <dt>Created</dt><dd>{utc(c.createdAt)}</dd>
      </dl>
      <div class='actions'>
        {c.status === 'active' && <a class='button primary' href={href('customers', c.id, 'onboard')}>Connect an AWS account</a>}
        <a class='button' href={href('audit', new URLSearchParams({ customerId: c.id }))}>Audit trail</a>
      </div>
      <LifecycleActions customer={c} onDone={(result) => { if (result !== undefined) setOffboarded(result); reloadAll() }} />
      {offboarded !== undefined && <RevocationImpact impact={offboarded.impact} />}

      <section aria-labelledby='connections-title'>
        <h2 id='connections-title'>Connections</h2>
        <ProblemMessage problem={connections.problem} />
        {connections.data !== undefined && (connections.data.items.length === 0
          ? <p>No AWS account is connected yet.</p>
          : (
            <table class='list'>
              <thead><tr><th scope='col'>Role</th><th scope='col' class='w-account'>Account</th><th scope='col' class='w-status'>Status</th><th scope='col' class='w-date'>Last probe</th><th scope='col' class='w-date'>Next probe</th></tr></thead>
              <tbody>
                {connections.data.items.map((connection) => (
                  <tr key={connection.id}>
                    <td data-label='Role'><a class='clip' title={connection.roleArn} href={href('connections', connection.id)}>{connection.roleArn}</a></td>
                    <td data-label='Account'>{connection.awsAccountId}</td>
                    <td data-label='Status'><StatusBadge status={connection.status} /></td>
                    <td data-label='Last probe'><StatusBadge status={connection.verification.outcome} /> {relative(connection.verification.checkedAt)}</td>
                    <td data-label='Next probe'>{connection.nextProbeAt === null ? '—' : relative(connection.nextProbeAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            ))}
      </section>

      <section aria-labelledby='external-ids-title'>
        <h2 id='external-ids-title'>External IDs</h2>
        <ProblemMessage problem={externalIds.problem} />
        {externalIds.data !== undefined && (externalIds.data.items.length === 0
          ? <p>No external ID minted yet.</p>
          : (
            <table class='list'>
              <thead><tr><th scope='col' class='w-account'>AWS account</th><th scope='col' class='w-uuid'>External ID</th><th scope='col' class='w-status'>Status</th><th scope='col' class='w-date'>Minted</th><th scope='col'>Retired</th></tr></thead>
              <tbody>
                {externalIds.data.items.map((externalId) => (
                  <tr key={externalId.id}>
                    <td data-label='AWS account'>{externalId.awsAccountId}</td>
                    <td data-label='External ID'><code>{externalId.externalId}</code></td>
                    <td data-label='Status'><StatusBadge status={externalId.status} /></td>
                    <td data-label='Minted'>{utc(externalId.createdAt)}</td>
                    <td data-label='Retired'>{externalId.retiredAt === null ? '—' : `${utc(externalId.retiredAt)}${externalId.retireReason === null ? '' : ` (${externalId.retireReason})`}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            ))}
      </section>
    </>
  )
}

/**
 * Why and since when a suspended customer is suspended, and by whom: the latest customer.suspended
 * event in the audit trail (the customer record keeps the status only). Needs audit:read; without
 * it the page says nothing more.
 */
function useSuspension (customerId: string, status: string | undefined): { at: string, by: string, reason: string } | undefined {
  const found = useLoad(async () => {
    if (status !== 'suspended') return undefined
    const page = await unwrap(api.GET('/v1/audit-events', { params: { query: { customerId, action: 'customer.suspended', limit: 1 } } }))
    const event = page.items[0]
    if (event === undefined) return undefined
    const by = event.actorClientId === null ? 'deputy' : page.actorNames[event.actorClientId] ?? event.actorClientId
    return { at: event.occurredAt, by, reason: typeof event.details.reason === 'string' ? event.details.reason : '' }
  }, [customerId, status])
  return found.data
}

const LIFECYCLE: Record<Lifecycle, { label: string, title: (name: string) => string, what: string, danger: boolean, reason: boolean }> = {
  suspend: {
    label: 'Suspend',
    title: (name) => `Suspend ${name}?`,
    what: 'deputy stops issuing credentials, probing and registering roles for this customer until it is resumed. Credentials already issued stay valid until they expire. Connections and external IDs are kept.',
    danger: true,
    reason: true
  },
  resume: {
    label: 'Resume',
    title: (name) => `Resume ${name}?`,
    what: 'deputy issues credentials, probes and registers roles for this customer again.',
    danger: false,
    reason: false
  },
  offboard: {
    label: 'Offboard',
    title: (name) => `Offboard ${name} for good?`,
    what: 'deputy revokes every connection, retires every external ID and revokes every API client bound to this customer, and marks it offboarded (this needs the customers:offboard scope). This cannot be undone: the customer can never be resumed and its external IDs are never reused. Credentials already issued stay valid until they expire, unless the customer attaches the deny policy shown next.',
    danger: true,
    reason: true
  }
}

function LifecycleActions ({ customer, onDone }: { customer: Customer, onDone: (offboarded?: OffboardedCustomer) => void }) {
  const [asking, setAsking] = useState<Lifecycle | undefined>()
  const path = { params: { path: { customerId: customer.id } } }
  const change = useAction(async (action: Lifecycle, reason: string): Promise<OffboardedCustomer | undefined> => {
    if (action === 'suspend') await unwrap(api.POST('/v1/customers/{customerId}/suspend', { ...path, body: { reason } }))
    else if (action === 'resume') await unwrap(api.POST('/v1/customers/{customerId}/resume', { ...path, body: {} }))
    else return await unwrap(api.POST('/v1/customers/{customerId}/offboard', { ...path, body: { reason } }))
    return undefined
  })
  const available: Lifecycle[] = customer.status === 'active' ? ['suspend', 'offboard'] : customer.status === 'suspended' ? ['resume', 'offboard'] : []
  if (available.length === 0 && change.problem === undefined) return null
  const spec = asking === undefined ? undefined : LIFECYCLE[asking]
  return (
    <section aria-label='Lifecycle'>
      <div class='actions'>
        {available.map((action) => <button key={action} type='button' class={LIFECYCLE[action].danger ? 'danger' : ''} onClick={() => { change.clear(); setAsking(action) }}>{LIFECYCLE[action].label}…</button>)}
      </div>
      {asking !== undefined && spec !== undefined && (
        <ConfirmDialog
          title={spec.title(customer.name)}
          confirmLabel={spec.label}
          danger={spec.danger}
          reason={spec.reason}
          onCancel={() => { setAsking(undefined) }}
          onConfirm={(reason) => {
            setAsking(undefined)
            change.run(asking, reason).then((result) => {
              if (result !== undefined || asking !== 'offboard') onDone(result)
            })
          }}
        >
          <p>{spec.what}</p>
        </ConfirmDialog>
      )}
      <ProblemMessage problem={change.problem} />
    </section>
  )
}
