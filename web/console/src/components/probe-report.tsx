// A probe report in plain words: each AssumeRole call, what deputy expected and what AWS did,
// then each finding, which says exactly what to change in the trust policy.
import type { ProbeCall, ProbeReport } from '../api/types'
import { utc } from '../lib/format'
import { StatusBadge } from './status-badge'

const STEPS: Record<ProbeCall['step'], { what: string, expected: ProbeCall['outcome'] }> = {
  with_external_id: { what: 'AssumeRole with the external ID', expected: 'allowed' },
  caller_identity: { what: 'The session is this role, in this account', expected: 'allowed' },
  without_external_id: { what: 'AssumeRole without an external ID (the confused-deputy test)', expected: 'denied' },
  wrong_external_id: { what: 'AssumeRole with a wrong external ID (the confused-deputy test)', expected: 'denied' }
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
      <table class='list'>
        <caption>Calls made at {utc(report.checkedAt)} ({report.durationMs} ms) to {report.roleArn}</caption>
        <thead><tr><th scope='col'>Check</th><th scope='col'>Expected</th><th scope='col'>AWS answered</th><th scope='col'>Detail</th></tr></thead>
        <tbody>
          {report.calls.map((call) => {
            const step = STEPS[call.step]
            return (
              <tr key={call.step}>
                <td>{step.what}</td>
                <td>{step.expected}</td>
                <td><span class={`badge badge-${call.outcome === step.expected ? 'ok' : 'bad'}`}>{call.outcome}</span>{call.outcome === step.expected ? '' : ' not as expected'}</td>
                <td>{call.errorCode === null ? '' : <><code>{call.errorCode}</code> {call.errorMessage}</>}{call.attempts > 1 ? ` (${call.attempts} attempts)` : ''}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
