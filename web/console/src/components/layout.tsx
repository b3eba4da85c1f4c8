// Every signed-in page: a skip link, the navigation, sign out, the sandbox notice and the
// freeze banner, then the page itself.
import type { ComponentChildren } from 'preact'
import { href } from '../router'
import { session } from '../session'
import { ANNOUNCER_ID } from '../lib/focus'
import { FreezeBanner, type Health } from './freeze-banner'
import { DeputyDown, UnreachableBanner } from './unreachable-banner'

export function Layout ({ health, section, children }: { health: Health, section: string, children: ComponentChildren }) {
  const { ready, downSince } = health
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
      <UnreachableBanner since={downSince} checking={health.checking} onRetry={() => { health.retry() }} />
      <FreezeBanner ready={ready} />
      <DeputyDown.Provider value={downSince !== undefined}>
        <main id='main' tabIndex={-1}>{children}</main>
      </DeputyDown.Provider>
      <p id={ANNOUNCER_ID} class='visually-hidden' role='status' />
    </>
  )
}
