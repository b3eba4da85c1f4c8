// What a revocation leaves behind, for the operator to pass on to the customer: sessions AWS
// already issued cannot be recalled, so they work until they expire unless the customer attaches
// the deny policy to the role.
import type { RevokedConnection } from '../api/types'
import { relative, utc } from '../lib/format'
import { CopyButton } from './copy-button'

export function RevocationImpact ({ impact, roleArn }: { impact: RevokedConnection['impact'], roleArn?: string | undefined }) {
  const policy = JSON.stringify(impact.customerDenyPolicy, null, 2)
  return (
    <section class='impact' aria-labelledby='impact-title'>
      <h2 id='impact-title'>What the revocation leaves behind</h2>
      {impact.outstandingCredentialsExpireAt === null
        // Nothing to end: no deny policy to pass on (it would read as if something were exposed).
        ? <p>No credentials deputy issued are still valid: nothing is exposed, and the customer has nothing to do.</p>
        : (
          <>
            <p class='exposure'>Credentials deputy already issued stay valid until <strong>{utc(impact.outstandingCredentialsExpireAt)}</strong> ({relative(impact.outstandingCredentialsExpireAt)}). AWS cannot recall them; deputy issues no more.</p>
            <p>To end them now, the customer attaches this policy to the role{roleArn === undefined ? '' : <> <code>{roleArn}</code></>} (inline, as a Deny it overrides every Allow): it refuses every session issued before the revocation, and no later one.</p>
            <pre class='code' tabIndex={0} aria-label='Deny policy for the customer'>{policy}</pre>
            <CopyButton text={policy} label='Copy deny policy' />
          </>
          )}
      <p class='muted'>Inside deputy the revocation took {impact.tookMs} ms.</p>
    </section>
  )
}
