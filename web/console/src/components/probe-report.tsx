// A probe report in plain words: each AssumeRole call, what deputy expected and what AWS did,
// then each finding, which says exactly what to change in the trust policy.
import type { ProbeCall, ProbeReport } from '../api/types'
import { utc } from '../lib/format'
import { StatusBadge } from './status-badge'

const STEPS: Record<ProbeCall['step'], { what: string, expected: ProbeCall['outcome'] }> = {
  with_external_id: { what: 'AssumeRole with the external ID', expected: 'allowed' },
  caller_identity: { what: 'The session is this role, in this account', expected: 'allowed' },
  without_external_id: { what: 'AssumeRole without an external ID (the confused-deputy test)', expected: 'denied' },
  wrong_external_id: { what: 'AssumeRole with a wrong external ID (the confused-deputy test)', expected: 'denied' },
  read_trust_policy: { what: 'Read the trust policy (IAM GetRole, optional)', expected: 'allowed' },
  replay_witness: { what: 'AssumeRole with the ID the trust policy wrongly admits (the proof\'s witness)', expected: 'denied' }
}

const STATIC: Record<NonNullable<ProbeReport['staticCheck']>['status'], string> = {
  proved: 'Proved: the trust policy admits deputy with this account\'s external ID and no other that anyone could use (a retired ID of this account, which deputy never presents again, is at most a finding).',
  violation: 'Violation: the trust policy admits deputy with another external ID, or none.',
  unknown: 'Unknown: the policy uses something the proof cannot decide; the behavioural checks decide alone.',
  unavailable: 'Unavailable: deputy could not read the trust policy; the behavioural checks decide alone.'
}

const VERDICT: Record<ProbeReport['outcome'], string> = {
  pass: 'The role works with its external ID and refuses deputy without it: it is safe to use.',
  insecure: 'The role can be assumed without its external ID: anyone who knows the role could make deputy act on it. deputy will not use it.',
  not_assumable: 'deputy cannot assume the role with its external ID yet.',
  error: 'AWS did not answer every call, so deputy could not decide. Nothing was recorded; retry.'
}

export function ProbeReportView ({ report }: { report: ProbeReport }) {
  return (
    <div class='probe-report'>
      <p class={`verdict verdict-${report.outcome}`}><StatusBadge status={report.outcome} /> {VERDICT[report.outcome]}</p>
      {report.findings.length > 0 && (
        <section aria-label='Findings'>
          <h3>What to change</h3>
          <ol class='findings'>
            {report.findings.map((finding) => <li key={finding.code} data-code={finding.code}>{finding.message}</li>)}
          </ol>
        </section>
      )}
      {report.staticCheck !== undefined && (
        <section aria-label='Static proof of the trust policy' class='static-check'>
          <h3>Static proof of the trust policy</h3>
          <p><StatusBadge status={report.staticCheck.status} /> {STATIC[report.staticCheck.status]}</p>
          <p>{report.staticCheck.detail}{report.staticCheck.statement === null ? '' : ` (${report.staticCheck.statement})`}</p>
          {report.staticCheck.witness !== null && (
            <p>Admitted although it is not this account's: external ID {report.staticCheck.witness.externalId === null ? <strong>none</strong> : <code>{report.staticCheck.witness.externalId}</code>}{report.staticCheck.confirmed === true ? ', and AWS accepted it when deputy tried.' : '.'}</p>
          )}
        </section>
      )}
      <table class='list'>
        <caption>Calls made at {utc(report.checkedAt)} ({report.durationMs} ms) to {report.roleArn}</caption>
        <thead><tr><th scope='col' class='w-check'>Check</th><th scope='col' class='w-expect'>Expected</th><th scope='col' class='w-answer'>AWS answered</th><th scope='col'>Detail</th></tr></thead>
        <tbody>
          {report.calls.map((call) => {
            const step = STEPS[call.step]
            return (
              <tr key={call.step}>
                <td data-label='Check'>{step.what}</td>
                <td data-label='Expected'>{step.expected}</td>
                <td data-label='AWS answered'><span class={`badge badge-${call.outcome === step.expected ? 'ok' : call.step === 'read_trust_policy' ? 'muted' : 'bad'}`}>{call.outcome}</span>{call.outcome === step.expected || call.step === 'read_trust_policy' ? '' : ' not as expected'}</td>
                <td data-label='Detail'>{call.errorCode === null ? '' : <><code>{call.errorCode}</code> {call.errorMessage}</>}{call.attempts > 1 ? ` (${call.attempts} attempts)` : ''}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
