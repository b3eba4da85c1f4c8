// Customers: create one (above the list, where a new onboarding starts), then the list, newest
// first with how many match, searched by name or reference on the server (it finds one among
// thousands), filtered by status, paged.
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import type { Customer, CustomerStatus } from '../api/types'
import { ProblemMessage } from '../components/problem-message'
import { Clip } from '../components/clip'
import { StatusBadge } from '../components/status-badge'
import { useAction, useLoad } from '../lib/use-load'
import { utc } from '../lib/format'
import { href, navigate } from '../router'

const STATUSES: CustomerStatus[] = ['active', 'suspended', 'offboarded']

export function CustomersPage ({ query }: { query: URLSearchParams }) {
  const search = query.get('search') ?? ''
  const statusParam = query.get('status')
  const status = STATUSES.find((s) => s === statusParam)
  const cursor = query.get('cursor') ?? undefined
  const list = useLoad(async () => await unwrap(api.GET('/v1/customers', {
    params: { query: { search: search === '' ? undefined : search, status, cursor, limit: 25, order: 'desc' } }
  })), [search, status, cursor])

  const filter = (event: Event): void => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const next = new URLSearchParams()
    const text = String(form.get('search') ?? '').trim()
    if (text !== '') next.set('search', text)
    const chosen = String(form.get('status') ?? '')
    if (chosen !== '') next.set('status', chosen)
    navigate(href('customers', next))
  }
  const nextPage = (nextCursor: string): string => {
    const next = new URLSearchParams(query)
    next.set('cursor', nextCursor)
    return href('customers', next)
  }

  return (
    <>
      <h1>Customers</h1>
      <CreateCustomer />
      <h2 id='list-title'>{list.data === undefined ? 'All customers' : count(list.data.total, search, status)}</h2>
      <form class='filters' role='search' aria-label='Find customers' onSubmit={filter} key={query.toString()}>
        <label class='field'>Name or reference<input type='search' name='search' defaultValue={search} maxLength={200} /></label>
        <label class='field'>Status
          <select name='status'>
            <option value=''>Any</option>
            {STATUSES.map((s) => <option key={s} value={s} selected={s === status}>{s}</option>)}
          </select>
        </label>
        <button type='submit'>Search</button>
      </form>
      <ProblemMessage problem={list.problem} />
      {list.data !== undefined && (
        <table class='list' aria-labelledby='list-title'>
          <thead><tr><th scope='col'>Name</th><th scope='col' class='w-ref'>Reference</th><th scope='col' class='w-status'>Status</th><th scope='col' class='w-date'>Created</th></tr></thead>
          <tbody>
            {list.data.items.length === 0 && <tr><td colSpan={4}>No customer matches.</td></tr>}
            {list.data.items.map((customer) => (
              <tr key={customer.id}>
                <td data-label='Name'><a class='clip' title={customer.name} href={href('customers', customer.id)}>{customer.name}</a></td>
                <td data-label='Reference'><Clip text={customer.externalRef ?? '—'} /></td>
                <td data-label='Status'><StatusBadge status={customer.status} /></td>
                <td data-label='Created'>{utc(customer.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class='pager' aria-label='Pages'>
        {cursor !== undefined && <a href={href('customers', withoutCursor(query))}>Newest</a>}
        {list.data?.nextCursor !== null && list.data?.nextCursor !== undefined && <a href={nextPage(list.data.nextCursor)}>Older customers</a>}
      </nav>
    </>
  )
}

/** "3 customers match “acme” (suspended), newest first". */
function count (total: number, search: string, status: CustomerStatus | undefined): string {
  const noun = `${total} customer${total === 1 ? '' : 's'}`
  const filtered = search !== '' || status !== undefined
  const which = `${search === '' ? '' : ` “${search}”`}${status === undefined ? '' : `${search === '' ? '' : ','} ${status}`}`
  return filtered ? `${noun} match${total === 1 ? 'es' : ''}${which}` : `${noun}, newest first`
}

function withoutCursor (query: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(query)
  next.delete('cursor')
  return next
}

function CreateCustomer () {
  const [name, setName] = useState('')
  const [externalRef, setExternalRef] = useState('')
  const create = useAction(async (): Promise<Customer> => await unwrap(api.POST('/v1/customers', {
    body: externalRef.trim() === '' ? { name: name.trim() } : { name: name.trim(), externalRef: externalRef.trim() }
  })))
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    const customer = await create.run()
    if (customer !== undefined) navigate(href('customers', customer.id))
  }
  return (
    <section aria-labelledby='create-customer'>
      <h2 id='create-customer'>New customer</h2>
      <form class='inline-form' onSubmit={(event) => { submit(event) }}>
        <label class='field'>Name<input name='name' required maxLength={200} value={name} onInput={(event) => { setName(event.currentTarget.value) }} /></label>
        <label class='field'>Your reference (optional, e.g. the CRM id)<input name='externalRef' maxLength={200} value={externalRef} onInput={(event) => { setExternalRef(event.currentTarget.value) }} /></label>
        <button type='submit' class='primary' disabled={create.busy || name.trim() === ''}>Create customer</button>
      </form>
      <ProblemMessage problem={create.problem} />
    </section>
  )
}
