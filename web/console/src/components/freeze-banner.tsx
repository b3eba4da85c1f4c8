// While issuance is frozen (POST /v1/admin/freeze), every page says so. /readyz is public and
// carries the freeze flag (not its reason, which is in the audit trail), so the banner works for
// any token; it is polled, as a freeze can start
// from another operator's console or a script at any time.
import { useEffect, useState } from 'preact/hooks'
import { readiness } from '../api/sandbox'
import type { Readiness } from '../api/types'

const POLL_MS = 10_000

export function useReadiness (): Readiness | undefined {
  const [ready, setReady] = useState<Readiness | undefined>()
  useEffect(() => {
    let live = true
    const check = (): void => { readiness().then((r) => { if (live) setReady(r) }, () => {}) }
    check()
    const timer = setInterval(check, POLL_MS)
    // Also on every page change, so a freeze (or its end) shows on the next page, not 10 s later.
    addEventListener('focus', check)
    addEventListener('hashchange', check)
    return () => { live = false; clearInterval(timer); removeEventListener('focus', check); removeEventListener('hashchange', check) }
  }, [])
  return ready
}

export function FreezeBanner ({ ready }: { ready: Readiness | undefined }) {
  if (ready?.issuanceFrozen !== true) return null
  return (
    <div class='banner banner-frozen' role='status'>
      <strong>Credential issuance is frozen.</strong> deputy refuses every credential request until an operator unfreezes it; the reason is in the audit trail (<code>issuance.frozen</code>).
    </div>
  )
}
