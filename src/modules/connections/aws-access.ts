// What the connection and credential services need from AWS, or nothing when deputy runs
// without AWS (then their routes answer 503 aws_not_configured).
import { isSamePrincipal } from '../../aws/arn.js'
import { createStsGateway, type StsGateway, type StsSettings } from '../../aws/sts-gateway.js'
import type { AwsConfig } from '../../config.js'
import { AppError, StartupError } from '../../lib/errors.js'
import { createProbe, type Probe } from './probe.js'
import { createStaticAnalyser } from './static-analysis.js'
import { PROBE_SOURCE_IDENTITY } from './session-names.js'
import { PROBE_TAG_CONTEXT, renderSessionTags, type SessionTag, type SessionTagTemplate } from '../credentials/session-tags.js'

/** The probe's session tags: the configured keys, every placeholder as "deputy-probe" (valid by construction). */
function probeTags (templates: readonly SessionTagTemplate[]): SessionTag[] | undefined {
  if (templates.length === 0) return undefined
  const rendered = renderSessionTags(templates, PROBE_TAG_CONTEXT)
  if (!rendered.ok) throw new StartupError(`SESSION_TAGS: the tag "${rendered.key}" cannot be rendered for the probe: it ${rendered.problem}`)
  return rendered.tags
}

export interface AwsAccess {
  settings: AwsConfig
  sts: Pick<StsGateway, 'assumeRole' | 'callerIdentity'>
  probe: Probe
}

export function requireAws (aws: AwsAccess | undefined): AwsAccess {
  if (aws === undefined) {
    throw new AppError({ status: 503, code: 'aws_not_configured', title: 'Service unavailable', detail: 'deputy runs without AWS (VENDOR_PRINCIPAL_ARN is not set), so it cannot verify roles or issue credentials' })
  }
  return aws
}

/**
 * Builds deputy's AWS access and checks who deputy is: GetCallerIdentity must name the
 * configured VENDOR_PRINCIPAL_ARN (or a session of that role), or deputy refuses to start.
 * `endpoint` and `credentials` (the sandbox's emulator) replace the SDK's own resolution.
 */
export async function connectAws (settings: AwsConfig, options: Pick<StsSettings, 'onCall' | 'endpoint' | 'credentials'> = {}): Promise<AwsAccess & { identityArn: string, ownCredentials: 'long_term' | 'temporary', close: () => Promise<void> }> {
  const sts = createStsGateway({ region: settings.region, timeoutMs: settings.stsTimeoutMs, ...options })
  const identity = await sts.callerIdentity({ retryBudgetMs: settings.stsRetryBudgetMs })
  if (!identity.ok) {
    sts.destroy()
    throw new StartupError(`cannot confirm deputy's AWS identity: GetCallerIdentity failed with ${identity.failure.code}: ${identity.failure.message} (check the AWS credentials, AWS_REGION and AWS_ENDPOINT_URL_STS)`)
  }
  if (!isSamePrincipal(settings.vendorPrincipalArn, identity.value.arn)) {
    sts.destroy()
    throw new StartupError(`deputy's AWS credentials belong to ${identity.value.arn}, not to VENDOR_PRINCIPAL_ARN ${settings.vendorPrincipalArn}; customers trust the latter, so deputy refuses to start`)
  }
  const analyser = createStaticAnalyser()
  // Resolved by the call above, so this asks no one.
  const ownCredentials = await sts.ownCredentials()
  const probe = createProbe({
    sts,
    analyser,
    settings: {
      vendorPrincipalArn: settings.vendorPrincipalArn,
      propagationWindowMs: settings.probePropagationWindowMs,
      retryBudgetMs: settings.stsRetryBudgetMs,
      sourceIdentity: settings.sourceIdentity ? PROBE_SOURCE_IDENTITY : undefined,
      tags: probeTags(settings.sessionTags)
    }
  })
  const close = async (): Promise<void> => {
    sts.destroy()
    await analyser.close()
  }
  return { settings, sts, probe, identityArn: identity.value.arn, ownCredentials, close }
}
