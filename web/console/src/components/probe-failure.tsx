// A registration the probe refused, as one screen: one headline, the one fix (for a role that
// admits deputy without its external ID, the trust policy to put in its place, with Copy), and
// everything else (the problem's code and request id, each call, the static proof) collapsed.
import type { ApiProblem } from '../api/problem'
import type { OnboardingKit, ProbeReport } from '../api/types'
import { CopyButton } from './copy-button'
import { ProbeReportView } from './probe-report'
import { ProblemMessage } from './problem-message'

const HEADLINE: Record<ProbeReport['outcome'], string> = {
  insecure: 'The role lets deputy in without its external ID, so deputy will not use it. Nothing was recorded.',
  not_assumable: 'deputy cannot assume the role with its external ID yet. Nothing was recorded.',
  error: 'AWS did not answer every call, so deputy could not decide. Nothing was recorded: retry.',
  pass: 'The role passed the probe, but deputy did not record it.'
}

export function ProbeFailure ({ problem, report, kit }: { problem: ApiProblem, report: ProbeReport, kit: OnboardingKit | undefined }) {
  const policy = kit === undefined ? undefined : JSON.stringify(kit.trustPolicy, null, 2)
  const fix = report.findings[0]?.message
  return (
    <div class='probe-failure'>
      <p class='headline' role='alert'>{HEADLINE[report.outcome]}</p>
      {report.outcome === 'insecure' && policy !== undefined && (
        <>
          <p>The customer replaces the role's trust policy with this one (or applies the kit again), then you press Retry:</p>
          <pre class='code' tabIndex={0} aria-label='Corrected trust policy'>{policy}</pre>
          <CopyButton text={policy} label='Copy the trust policy' />
        </>
      )}
      {report.outcome === 'not_assumable' && fix !== undefined && <p>{fix}</p>}
      <details>
        <summary>Details: each call deputy made, the static proof, the request id</summary>
        <ProblemMessage problem={problem} />
        <ProbeReportView report={report} />
      </details>
    </div>
  )
}
