// One connection: its status, the last probe report call by call, the next scheduled probe, a
// probe on demand, and revoke, which shows what the revocation leaves behind for the customer.
import { useEffect, useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import type { ApiProblem } from '../api/problem'
import type { RevokedConnection } from '../api/types'
import { ConfirmDialog } from '../components/confirm-dialog'
import { ProbeReportView } from '../components/probe-report'
import { ProblemMessage } from '../components/problem-message'
import { RevocationImpact } from '../components/revocation-impact'
import { StatusBadge } from '../components/status-badge'
import { relative, utc } from '../lib/format'
import { useAction, useLoad } from '../lib/use-load'
import { href } from '../router'

/** Seconds left of the wait a refusal asked for (its Retry-After), counting down once a second. */
function useCountdown (refusal: ApiProblem | undefined): number {
  const seconds = refusal?.retryAfter ?? null
  const [left, setLeft] = useState(0)
  useEffect(() => {
    if (seconds === null) return
    const until = Date.now() + seconds * 1000
    const tick = (): void => { setLeft(Math.max(0, Math.ceil((until - Date.now()) / 1000))) }
    tick()
    const timer = setInterval(tick, 1000)
    return () => { clearInterval(timer) }
  }, [refusal])
  return seconds === null ? 0 : left
}

export function ConnectionPage ({ connectionId }: { connectionId: string }) {
  const path = { params: { path: { connectionId } } }
  const connection = useLoad(async () => await unwrap(api.GET('/v1/connections/{connectionId}', path)), [connectionId])
  const [confirming, setConfirming] = useState(false)
  const [revoked, setRevoked] = useState<RevokedConnection | undefined>()
  const revoke = useAction(async (reason: string) => await unwrap(api.POST('/v1/connections/{connectionId}/revoke', { ...path, body: { reason } })))
  const verify = useAction(async () => await unwrap(api.POST('/v1/connections/{connectionId}/verify', path)))
  const wait = useCountdown(verify.problem?.status === 429 ? verify.problem : undefined)

  if (connection.problem !== undefined) return <><h1>Connection</h1><ProblemMessage problem={connection.problem} /></>
  if (connection.data === undefined) return <p aria-busy='true'>Loading…</p>
  const c = connection.data
  const live = c.status !== 'revoked'
  return (
    <>
      <p><a href={href('customers', c.customerId)}>← Customer</a></p>
      <h1>Connection <StatusBadge status={c.status} /></h1>
      <dl class='facts'>
        <dt>Role</dt><dd><code>{c.roleArn}</code></dd>
        <dt>AWS account</dt><dd>{c.awsAccountId}</dd>
        <dt>Connected</dt><dd>{utc(c.createdAt)}</dd>
        <dt>Last verified</dt><dd>{utc(c.verifiedAt)} ({relative(c.verifiedAt)})</dd>
        <dt>Next scheduled probe</dt><dd>{c.nextProbeAt === null ? (live ? 'not scheduled' : '— (revoked)') : `${utc(c.nextProbeAt)} (${relative(c.nextProbeAt)})`}</dd>
        {c.revokedAt !== null && <><dt>Revoked</dt><dd>{utc(c.revokedAt)}</dd></>}
      </dl>
      {live && (
        <div class='actions'>
          <button type='button' disabled={verify.busy || wait > 0} aria-describedby={wait > 0 ? 'probe-wait' : undefined} onClick={() => { verify.run().then((done) => { if (done !== undefined) connection.reload() }) }}>{verify.busy ? 'Probing…' : wait > 0 ? `Probe again in ${wait} s` : 'Probe now'}</button>
          <button type='button' class='danger' onClick={() => { revoke.clear(); setConfirming(true) }}>Revoke…</button>
        </div>
      )}
      {/* A probe refused for its pace says when the next one may run, not the API's sentence. */}
      {wait > 0 && <p id='probe-wait' class='muted why' role='status'>{verify.problem?.code === 'probe_cooldown' ? 'This connection was probed moments ago, and deputy spaces the probes of one connection.' : 'This customer has used its probes for the hour: each one calls AWS in the customer\'s account.'} You can probe again in {wait} s.</p>}
      <ProblemMessage problem={verify.problem?.status === 429 ? revoke.problem : verify.problem ?? revoke.problem} />
      {revoked !== undefined && <RevocationImpact impact={revoked.impact} roleArn={revoked.roleArn} />}
      <section aria-labelledby='report-title'>
        <h2 id='report-title'>Last probe</h2>
        <ProbeReportView report={c.verification} />
      </section>
      <p><a href={href('audit', new URLSearchParams({ customerId: c.customerId, resourceId: c.id }))}>This connection in the audit trail</a></p>
      {confirming && (
        <ConfirmDialog
          title='Revoke this connection?'
          confirmLabel='Revoke'
          danger
          reason
          onCancel={() => { setConfirming(false) }}
          onConfirm={(reason) => {
            setConfirming(false)
            revoke.run(reason).then((result) => { if (result !== undefined) { setRevoked(result); connection.reload() } })
          }}
        >
          <p>deputy stops issuing credentials for <code>{c.roleArn}</code> for good; to use the role again it must be registered and probed again. Credentials already issued stay valid until they expire, unless the customer attaches the deny policy deputy shows next.</p>
        </ConfirmDialog>
      )}
    </>
  )
}
