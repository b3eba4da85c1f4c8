// While issuance is frozen (POST /v1/admin/freeze), every page says so. /readyz is public and
// carries the freeze flag (not its reason, which is in the audit trail), so the banner works for
// any token; it is polled, as a freeze can start
// from another operator's console or a script at any time.
import { useEffect, useState } from 'preact/hooks'
import { readiness } from '../api/sandbox'
import { ApiProblem } from '../api/problem'
import type { Readiness } from '../api/types'

const POLL_MS = 10_000

/** A page's request got no answer: check now rather than at the next poll. */
export const SUSPECT_EVENT = 'deputy:no-answer'

export interface Health {
  ready: Readiness | undefined
  /** Since when deputy has not answered (undefined while it answers). */
  downSince: string | undefined
  checking: boolean
  retry: () => void
  /** Grows each time deputy answers again after not answering: pages remount and reload. */
  generation: number
}

export function useReadiness (): Health {
  const [ready, setReady] = useState<Readiness | undefined>()
  const [downSince, setDownSince] = useState<string | undefined>()
  const [checking, setChecking] = useState(false)
  const [generation, setGeneration] = useState(0)
  const [trigger, setTrigger] = useState(0)
  useEffect(() => {
    let live = true
    const check = (): void => {
      setChecking(true)
      readiness().then((r) => {
        if (!live) return
        setReady(r)
        setDownSince((since) => { if (since !== undefined) setGeneration((g) => g + 1); return undefined })
      }, (error: unknown) => {
        // A 503 is an answer (deputy says it is not ready); only no answer at all is "down".
        if (live && !(error instanceof ApiProblem)) setDownSince((since) => since ?? new Date().toISOString())
      }).finally(() => { if (live) setChecking(false) })
    }
    check()
    const timer = setInterval(check, POLL_MS)
    // Also on every page change, so a freeze (or its end) shows on the next page, not 10 s later.
    addEventListener('focus', check)
    addEventListener('hashchange', check)
    addEventListener(SUSPECT_EVENT, check)
    return () => { live = false; clearInterval(timer); removeEventListener('focus', check); removeEventListener('hashchange', check); removeEventListener(SUSPECT_EVENT, check) }
  }, [trigger])
  return { ready, downSince, checking, retry: () => { setTrigger((n) => n + 1) }, generation }
}

export function FreezeBanner ({ ready }: { ready: Readiness | undefined }) {
  if (ready?.issuanceFrozen !== true) return null
  return (
    <div class='banner banner-frozen' role='status'>
      <strong>Credential issuance is frozen.</strong> deputy refuses every credential request until an operator unfreezes it; the reason is in the audit trail (<code>issuance.frozen</code>).
    </div>
  )
}
