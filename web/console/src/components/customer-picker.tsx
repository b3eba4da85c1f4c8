// A customer chosen by typing part of its name or reference: the API searches (GET
// /v1/customers?search=), so it finds one among thousands without loading them; an ARIA 1.2
// combobox (arrows move, Enter chooses, Escape closes). The choice travels in the form as a
// hidden customerId.
import { useEffect, useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import type { Customer } from '../api/types'

const SHOWN = 8
const TYPING_MS = 250

export function CustomerPicker ({ customerId, name }: { customerId: string | undefined, name: string | undefined }) {
  const [chosen, setChosen] = useState<{ id: string, name: string } | undefined>(customerId === undefined ? undefined : { id: customerId, name: name ?? customerId })
  const [text, setText] = useState(chosen?.name ?? '')
  const [found, setFound] = useState<Customer[]>([])
  const [open, setOpen] = useState(false)
  const [active, setActive] = useState(0)
  useEffect(() => { if (name !== undefined && chosen?.id === customerId) { setChosen({ id: customerId ?? '', name }); setText(name) } }, [name])
  useEffect(() => {
    const search = text.trim()
    if (!open || search === '' || search === chosen?.name) { setFound([]); return }
    let live = true
    const timer = setTimeout(() => {
      unwrap(api.GET('/v1/customers', { params: { query: { search, limit: SHOWN, order: 'desc' } } }))
        .then((page) => { if (live) { setFound(page.items); setActive(0) } }, () => { if (live) setFound([]) })
    }, TYPING_MS)
    return () => { live = false; clearTimeout(timer) }
  }, [text, open])
  const choose = (customer: Customer): void => {
    setChosen({ id: customer.id, name: customer.name })
    setText(customer.name)
    setOpen(false)
  }
  const onKey = (event: KeyboardEvent): void => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      setOpen(true)
      setActive((index) => Math.max(0, Math.min(found.length - 1, index + (event.key === 'ArrowDown' ? 1 : -1))))
    } else if (event.key === 'Enter' && open && found[active] !== undefined) {
      event.preventDefault()
      choose(found[active])
    } else if (event.key === 'Escape' && open) {
      event.preventDefault()
      setOpen(false)
    }
  }
  const expanded = open && found.length > 0
  return (
    <div class='field picker'>
      <label for='customer-picker'>Customer</label>
      <input
        id='customer-picker' type='search' role='combobox' list={undefined} autoComplete='off' spellcheck={false} maxLength={200}
        placeholder='Any: type a name or reference' aria-autocomplete='list' aria-expanded={expanded} aria-controls='customer-options'
        aria-activedescendant={expanded ? `customer-option-${active}` : undefined}
        value={text}
        onInput={(event) => { const typed = event.currentTarget.value; setText(typed); setOpen(true); if (typed !== chosen?.name) setChosen(undefined) }}
        onKeyDown={onKey}
        onBlur={() => { setTimeout(() => { setOpen(false) }, 150) }}
      />
      <input type='hidden' name='customerId' value={chosen?.id ?? ''} />
      <ul id='customer-options' role='listbox' aria-label='Customers found' class='options' hidden={!expanded}>
        {found.map((customer, index) => (
          <li
            key={customer.id} id={`customer-option-${index}`} role='option' aria-selected={index === active}
            title={customer.name} onMouseDown={(event) => { event.preventDefault(); choose(customer) }}
          >{customer.name}{customer.externalRef === null ? '' : <span class='muted'> · {customer.externalRef}</span>}
          </li>
        ))}
      </ul>
    </div>
  )
}
