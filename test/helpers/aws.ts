// The STS emulator for tests: a real HTTP server that deputy reaches through the real SDK, the
// way it reaches AWS (AWS_ENDPOINT_URL_STS and ordinary credentials in the environment); it
// answers IAM GetRole too (AWS_ENDPOINT_URL_IAM).
import type { Test } from 'tap'
import { createStsEmulator } from '../../src/aws/sts-emulator/emulator.js'
import { startStsEmulator, type RunningStsEmulator } from '../../src/aws/sts-emulator/server.js'

export const VENDOR_ARN = 'arn:aws:iam::111111111111:user/deputy-vendor'

export interface TestAws extends RunningStsEmulator {
  keys: { accessKeyId: string, secretAccessKey: string }
  /** Configuration for buildTestApp. */
  env: Record<string, string>
}

/** `now`: the emulator's clock (sessions expire by it), for tests about expiry. */
export async function startTestAws (t: Test, env: Record<string, string> = {}, options: { now?: () => Date } = {}): Promise<TestAws> {
  const running = await startStsEmulator(options.now === undefined ? {} : { emulator: createStsEmulator({ now: options.now }) })
  const keys = running.emulator.createUser(VENDOR_ARN)
  // Each test file is its own process, so this environment belongs to this file alone.
  Object.assign(process.env, { AWS_ENDPOINT_URL_STS: running.url, AWS_ENDPOINT_URL_IAM: running.url, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_REGION: 'us-east-1' })
  delete process.env.AWS_SESSION_TOKEN
  delete process.env.AWS_PROFILE
  t.teardown(() => running.close())
  return { ...running, keys, env: { VENDOR_PRINCIPAL_ARN: VENDOR_ARN, PROBE_PROPAGATION_WINDOW_MS: '0', STS_RETRY_BUDGET_MS: '400', STS_TIMEOUT_MS: '1000', PROBE_COOLDOWN_MS: '0', PROBE_BUDGET_PER_CUSTOMER_PER_HOUR: '100000', DRIFT_TICK_MS: '0', ...env } }
}

type Statement = Record<string, unknown>

export const policy = (...statements: Statement[]): object => ({ Version: '2012-10-17', Statement: statements })

/** The trust policy deputy's onboarding asks for: the vendor, the exact external ID, source identity. */
export const secureTrust = (externalId: string, principal = VENDOR_ARN): object => policy({
  Effect: 'Allow',
  Principal: { AWS: principal },
  Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
  Condition: { StringEquals: { 'sts:ExternalId': externalId } }
})

/** The calls the emulator recorded that went to STS (not IAM GetRole). */
export const stsCallsOf = (emulator: { calls(): Array<{ action: string }> }): number => emulator.calls().filter((c) => c.action !== 'GetRole').length

export const roleArn = (account: string, name = 'DeputyAccess'): string => `arn:aws:iam::${account}:role/${name}`
