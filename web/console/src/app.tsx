// The console: sign in, then one page per hash route.
import { useEffect, useState } from 'preact/hooks'
import { Layout } from './components/layout'
import { useReadiness } from './components/freeze-banner'
import { AuditPage } from './pages/audit'
import { ConnectionPage } from './pages/connection'
import { CustomerPage } from './pages/customer'
import { CustomersPage } from './pages/customers'
import { OnboardingWizard } from './pages/onboarding'
import { SignIn } from './pages/sign-in'
import { usePageArrival } from './lib/focus'
import { useRoute } from './router'
import { session } from './session'

export function App () {
  const [signedIn, setSignedIn] = useState(session.token() !== null)
  useEffect(() => session.subscribe(setSignedIn), [])
  const health = useReadiness()
  const { ready, generation } = health
  const route = useRoute()
  usePageArrival(`${signedIn ? 'in' : 'out'}:${route.path.join('/')}`)
  if (!signedIn) return <SignIn />
  const [section = 'customers', id, sub] = route.path
  let page
  if (section === 'customers' && id !== undefined && sub === 'onboard') page = <OnboardingWizard key={`onboard-${id}`} customerId={id} ready={ready} />
  else if (section === 'customers' && id !== undefined) page = <CustomerPage key={`${id}-${generation}`} customerId={id} />
  else if (section === 'connections' && id !== undefined) page = <ConnectionPage key={`${id}-${generation}`} connectionId={id} />
  else if (section === 'audit') page = <AuditPage key={generation} query={route.query} />
  else page = <CustomersPage key={generation} query={route.query} />
  return <Layout health={health} section={section}>{page}</Layout>
}
