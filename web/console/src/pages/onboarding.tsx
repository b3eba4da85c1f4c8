// The onboarding wizard for one AWS account: mint the external ID, hand over the kit, take the
// role ARN, run the probe, and say in plain words what to fix when it fails.
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import type { ApiProblem } from '../api/problem'
import { applySandboxStack } from '../api/sandbox'
import type { Connection, ExternalId, OnboardingKit, ProbeReport, Readiness } from '../api/types'
import { Clamp } from '../components/clip'
import { CopyButton } from '../components/copy-button'
import { ProbeFailure } from '../components/probe-failure'
import { ProbeReportView } from '../components/probe-report'
import { ProblemMessage } from '../components/problem-message'
import { saveAs } from '../lib/download'
import { useStepFocus } from '../lib/focus'
import { roleArnProblem } from '../lib/role-arn'
import { useAction, useLoad } from '../lib/use-load'
import { href } from '../router'

type Step = 'account' | 'kit' | 'role' | 'done'
const STEPS: Array<[Step, string]> = [['account', 'AWS account'], ['kit', 'Create the role'], ['role', 'Verify the role'], ['done', 'Connected']]

export function OnboardingWizard ({ customerId, ready }: { customerId: string, ready: Readiness | undefined }) {
  const customer = useLoad(async () => await unwrap(api.GET('/v1/customers/{customerId}', { params: { path: { customerId } } })), [customerId])
  const [step, setStep] = useState<Step>('account')
  const [externalId, setExternalId] = useState<ExternalId | undefined>()
  const [connection, setConnection] = useState<Connection | undefined>()
  const [roleArn, setRoleArn] = useState('')
  if (customer.problem !== undefined) return <><h1>Connect an AWS account</h1><ProblemMessage problem={customer.problem} /></>
  return (
    <>
      <h1 tabIndex={-1}><Clamp text={`Connect an AWS account${customer.data === undefined ? '' : ` for ${customer.data.name}`}`} title={customer.data?.name} /></h1>
      <ol class='steps' aria-label='Steps'>
        {STEPS.map(([id, label], index) => <li key={id} aria-current={id === step ? 'step' : undefined} class={id === step ? 'current' : ''}>{index + 1}. {label}</li>)}
      </ol>
      {step === 'account' && <AccountStep customerId={customerId} suggested={ready?.sandbox?.customerAwsAccountId} onMinted={(minted) => { setExternalId(minted); setStep('kit') }} />}
      {step === 'kit' && externalId !== undefined && <KitStep externalId={externalId} sandbox={ready?.aws === 'emulated'} onRoleCreated={(arn) => { setRoleArn(arn); setStep('role') }} onNext={() => { setStep('role') }} />}
      {step === 'role' && externalId !== undefined && <RoleStep customerId={customerId} externalId={externalId} roleArn={roleArn} setRoleArn={setRoleArn} onBack={() => { setStep('kit') }} onConnected={(created) => { setConnection(created); setStep('done') }} />}
      {step === 'done' && connection !== undefined && <DoneStep customerId={customerId} connection={connection} />}
    </>
  )
}

/** "Step 2 of 4: Create the role", for the step's announcement. */
const stepLabel = (step: Step): string => {
  const index = STEPS.findIndex(([id]) => id === step)
  return `Step ${index + 1} of ${STEPS.length}: ${STEPS[index]?.[1] ?? ''}`
}

function DoneStep ({ customerId, connection }: { customerId: string, connection: Connection }) {
  const focus = useStepFocus(stepLabel('done'))
  return (
    <section aria-labelledby='done-title'>
      <h2 id='done-title' tabIndex={-1} ref={focus}>Connected</h2>
      <ProbeReportView report={connection.verification} />
      <p>deputy can now issue short-lived credentials for <code>{connection.roleArn}</code>, and probes it again on schedule.</p>
      <div class='actions'>
        <a class='button primary' href={href('connections', connection.id)}>Open the connection</a>
        <a class='button' href={href('customers', customerId)}>Back to the customer</a>
      </div>
    </section>
  )
}

function AccountStep ({ customerId, suggested, onMinted }: { customerId: string, suggested: string | undefined, onMinted: (externalId: ExternalId) => void }) {
  const [account, setAccount] = useState(suggested ?? '')
  const mint = useAction(async (): Promise<ExternalId> => {
    const body = { awsAccountId: account.trim() }
    const { data, error, response } = await api.POST('/v1/customers/{customerId}/external-ids', { params: { path: { customerId } }, body })
    if (data !== undefined) return data
    // The account already has an active ID: the wizard carries on with it (IDs are never re-minted).
    const existing = (error as { existingExternalIdId?: string | null } | undefined)?.existingExternalIdId
    if (response.status === 409 && typeof existing === 'string') return await unwrap(api.GET('/v1/external-ids/{externalIdId}', { params: { path: { externalIdId: existing } } }))
    return await unwrap<ExternalId>(Promise.resolve({ error, response }))
  })
  return (
    <section aria-labelledby='account-title'>
      <h2 id='account-title'>Which AWS account?</h2>
      <p>deputy mints one external ID for this account: a random value the customer's role will require, so no one else can make deputy use the role.</p>
      <form class='inline-form' onSubmit={(event) => { event.preventDefault(); mint.run().then((minted) => { if (minted !== undefined) onMinted(minted) }) }}>
        <label class='field'>AWS account ID (12 digits)
          <input name='awsAccountId' inputMode='numeric' pattern='[0-9]{12}' required value={account} onInput={(event) => { setAccount(event.currentTarget.value) }} autoFocus data-autofocus />
        </label>
        <button type='submit' class='primary' disabled={mint.busy}>Mint the external ID</button>
      </form>
      <ProblemMessage problem={mint.problem} />
    </section>
  )
}

function KitStep ({ externalId, sandbox, onRoleCreated, onNext }: { externalId: ExternalId, sandbox: boolean, onRoleCreated: (roleArn: string) => void, onNext: () => void }) {
  const kit = useLoad(async () => await unwrap(api.GET('/v1/external-ids/{externalIdId}/onboarding', { params: { path: { externalIdId: externalId.id } } })), [externalId.id])
  const apply = useAction(async (k: OnboardingKit) => await applySandboxStack(k.awsAccountId, k.cloudFormation.template))
  const focus = useStepFocus(stepLabel('kit'))
  if (kit.problem !== undefined) return <ProblemMessage problem={kit.problem} />
  if (kit.data === undefined) return <p aria-busy='true'>Loading the kit…</p>
  const k = kit.data
  return (
    <section aria-labelledby='kit-title'>
      <h2 id='kit-title' tabIndex={-1} ref={focus}>The customer creates the role</h2>
      <dl class='facts'>
        <dt>External ID</dt><dd><code class='external-id'>{k.externalId}</code> <CopyButton text={k.externalId} label='Copy external ID' /></dd>
        <dt>Role to create</dt><dd><code>{k.roleArn}</code></dd>
        <dt>Trusted principal</dt><dd><code>{k.vendorPrincipalArn}</code></dd>
      </dl>
      {k.warnings.length > 0 && <ul class='warnings'>{k.warnings.map((warning) => <li key={warning}>{warning}</li>)}</ul>}
      <p>Send the customer one of these. Each creates the same role, trusting deputy only with this external ID.</p>
      <div class='kit-options'>
        <article>
          <h3>CloudFormation</h3>
          {k.cloudFormation.quickCreateUrl === null
            ? <p class='muted'>No quick-create link: the vendor has not set <code>ONBOARDING_TEMPLATE_URL</code>. Download the template instead.</p>
            : <a class='button primary' href={k.cloudFormation.quickCreateUrl} target='_blank' rel='noopener noreferrer'>Launch stack in the AWS console</a>}
          <button type='button' onClick={() => { saveAs(`deputy-role-${k.awsAccountId}.yaml`, new Blob([k.cloudFormation.template], { type: 'application/yaml' })) }}>Download the template</button>
        </article>
        <article>
          <h3>Terraform</h3>
          <pre class='code' tabIndex={0} aria-label='Terraform'>{k.terraform}</pre>
          <CopyButton text={k.terraform} label='Copy Terraform' />
        </article>
        <article>
          <h3>AWS CLI</h3>
          <pre class='code' tabIndex={0} aria-label='AWS CLI commands'>{k.awsCli}</pre>
          <CopyButton text={k.awsCli} label='Copy AWS CLI commands' />
        </article>
      </div>
      {sandbox && (
        <div class='sandbox-box'>
          <p><strong>Sandbox:</strong> AWS is emulated. Apply the template to the emulated account {k.awsAccountId}, as the customer would.</p>
          <button type='button' disabled={apply.busy} onClick={() => { apply.run(k).then((stack) => { if (stack !== undefined) onRoleCreated(stack.roleArn) }) }}>Apply the template in the sandbox</button>
          <ProblemMessage problem={apply.problem} />
        </div>
      )}
      <div class='actions'><button type='button' class='primary' onClick={onNext}>The customer has created the role</button></div>
    </section>
  )
}

function RoleStep ({ customerId, externalId, roleArn, setRoleArn, onBack, onConnected }: { customerId: string, externalId: ExternalId, roleArn: string, setRoleArn: (arn: string) => void, onBack: () => void, onConnected: (connection: Connection) => void }) {
  const register = useAction(async () => await unwrap(api.POST('/v1/customers/{customerId}/connections', { params: { path: { customerId } }, body: { externalIdId: externalId.id, roleArn: roleArn.trim() } })))
  const submit = (): void => { register.run().then((connection) => { if (connection !== undefined) onConnected(connection) }) }
  const report = probeOf(register.problem)
  const focus = useStepFocus(stepLabel('role'))
  const kit = useLoad(async () => await unwrap(api.GET('/v1/external-ids/{externalIdId}/onboarding', { params: { path: { externalIdId: externalId.id } } })), [externalId.id])
  const invalid = roleArnProblem(roleArn, externalId.awsAccountId)
  const why = roleArn.trim() === '' ? 'Paste the role ARN to verify it.' : invalid
  return (
    <section aria-labelledby='role-title'>
      <h2 id='role-title' tabIndex={-1} ref={focus}>Verify the role</h2>
      <p>Paste the ARN of the role the customer created (the stack's <code>RoleArn</code> output). deputy then makes three AssumeRole calls: with the external ID it must work; without it, or with a wrong one, AWS must refuse. Only then is the role recorded.</p>
      <form class='inline-form' onSubmit={(event) => { event.preventDefault(); submit() }}>
        <label class='field wide'>Role ARN
          <input name='roleArn' required spellcheck={false} placeholder={`arn:aws:iam::${externalId.awsAccountId}:role/…`} value={roleArn} aria-invalid={invalid !== undefined} aria-describedby='role-arn-why' onInput={(event) => { setRoleArn(event.currentTarget.value) }} />
        </label>
        <button type='submit' class='primary' disabled={register.busy || why !== undefined} aria-describedby='role-arn-why'>{register.busy ? 'Probing…' : report === undefined ? 'Verify and connect' : 'Retry'}</button>
        <button type='button' onClick={onBack}>Back to the kit</button>
      </form>
      {why !== undefined && <p id='role-arn-why' class={invalid === undefined ? 'muted why' : 'field-error'}>{why}</p>}
      {register.problem !== undefined && (report === undefined
        ? <ProblemMessage problem={register.problem} />
        : <ProbeFailure problem={register.problem} report={report} kit={kit.data} />)}
    </section>
  )
}

/** The probe report a refused registration carries (422 insecure / not assumable, 503). */
function probeOf (problem: ApiProblem | undefined): ProbeReport | undefined {
  const probe = problem?.document.probe
  return typeof probe === 'object' && probe !== null ? probe as ProbeReport : undefined
}
