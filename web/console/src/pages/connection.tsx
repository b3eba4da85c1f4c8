// One connection: its status, the last probe report call by call, the next scheduled probe, a
// probe on demand, and revoke, which shows what the revocation leaves behind for the customer.
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import type { RevokedConnection } from '../api/types'
import { ConfirmDialog } from '../components/confirm-dialog'
import { ProbeReportView } from '../components/probe-report'
import { ProblemMessage } from '../components/problem-message'
import { RevocationImpact } from '../components/revocation-impact'
import { StatusBadge } from '../components/status-badge'
import { relative, utc } from '../lib/format'
import { useAction, useLoad } from '../lib/use-load'
import { href } from '../router'

export function ConnectionPage ({ connectionId }: { connectionId: string }) {
  const path = { params: { path: { connectionId } } }
  const connection = useLoad(async () => await unwrap(api.GET('/v1/connections/{connectionId}', path)), [connectionId])
  const [confirming, setConfirming] = useState(false)
  const [revoked, setRevoked] = useState<RevokedConnection | undefined>()
  const revoke = useAction(async (reason: string) => await unwrap(api.POST('/v1/connections/{connectionId}/revoke', { ...path, body: { reason } })))
  const verify = useAction(async () => await unwrap(api.POST('/v1/connections/{connectionId}/verify', path)))

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
          <button type='button' disabled={verify.busy} onClick={() => { verify.run().then((done) => { if (done !== undefined) connection.reload() }) }}>{verify.busy ? 'Probing…' : 'Probe now'}</button>
          <button type='button' class='danger' onClick={() => { revoke.clear(); setConfirming(true) }}>Revoke…</button>
        </div>
      )}
      <ProblemMessage problem={verify.problem ?? revoke.problem} />
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
