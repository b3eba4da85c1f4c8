// The sandbox's own routes and facts. POST /v1/sandbox/accounts/{id}/stacks exists only in a
// sandbox deputy, so the committed openapi.yaml (the contract of a deployment) leaves it out and
// the typed client cannot reach it; this one call is typed here, from sandbox.schemas.ts.
import { api, rawFetch, unwrap } from './client'
import type { Readiness } from './types'

export interface AppliedStack {
  awsAccountId: string
  roleName: string
  roleArn: string
  maxSessionDuration: number
  outputs: { RoleArn: string }
}

/** Deploys a CloudFormation template in an emulated customer account, as the customer would. */
export async function applySandboxStack (awsAccountId: string, template: string, parameters?: Record<string, string>): Promise<AppliedStack> {
  const response = await rawFetch(`/v1/sandbox/accounts/${encodeURIComponent(awsAccountId)}/stacks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(parameters === undefined ? { template } : { template, parameters })
  })
  return await response.json() as AppliedStack
}

export const readiness = async (): Promise<Readiness> => await unwrap(api.GET('/readyz'))
