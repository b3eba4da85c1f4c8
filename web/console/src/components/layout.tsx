// Every signed-in page: a skip link, the navigation, sign out, the sandbox notice and the
// freeze banner, then the page itself.
import type { ComponentChildren } from 'preact'
import type { Readiness } from '../api/types'
import { href } from '../router'
import { session } from '../session'
import { ANNOUNCER_ID } from '../lib/focus'
import { FreezeBanner } from './freeze-banner'

export function Layout ({ ready, section, children }: { ready: Readiness | undefined, section: string, children: ComponentChildren }) {
  const link = (name: string, label: string) => <a href={href(name)} aria-current={section === name ? 'page' : undefined}>{label}</a>
  return (
    <>
      <a class='skip' href='#main' onClick={(event) => { event.preventDefault(); document.getElementById('main')?.focus() }}>Skip to content</a>
      <header class='top'>
        <span class='brand'>deputy</span>
        <nav aria-label='Main'>
          {link('customers', 'Customers')}
          {link('audit', 'Audit')}
        </nav>
        {ready?.aws === 'emulated' && <span class='badge badge-warn' title='AWS is emulated: nothing reaches a real AWS account'>Sandbox</span>}
        <button type='button' class='sign-out' onClick={() => { session.signOut() }}>Sign out</button>
      </header>
      <FreezeBanner ready={ready} />
      <main id='main' tabIndex={-1}>{children}</main>
      <p id={ANNOUNCER_ID} class='visually-hidden' role='status' />
    </>
  )
}
