// Sandbox only: applies a CloudFormation template (an onboarding kit's) to an emulated customer
// account, creating its role the way CloudFormation and IAM would: parameters settled against
// their constraints, Ref and Fn::If resolved (instantiateRoleTemplate), the policies checked
// against IAM's grammar, then the role put in the STS emulator. Stack semantics are "create or
// update": applying a rotation's kit replaces the role's trust policy. Nothing here touches the
// database (the emulated account is the emulator's memory), so nothing here is audited.
import { YAMLError } from 'yaml'
import type { Partition } from '../../aws/arn.js'
import type { StsEmulator } from '../../aws/sts-emulator/emulator.js'
import { policyDocumentProblems } from '../../iam/policy-document.js'
import { AppError } from '../../lib/errors.js'
import type { InstantiatedRole } from '../onboarding/cloudformation.js'
import { instantiateRoleTemplate } from '../onboarding/onboarding-kit.js'
import type { AppliedStack, ApplyStackInput } from './sandbox.schemas.js'

export interface Deps {
  emulator: Pick<StsEmulator, 'putRole'>
  /** The emulated accounts' partition (the vendor principal's). */
  partition: Partition
}

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/

/** 422 template_invalid: what CloudFormation (or IAM, during the stack) would refuse, in its words. */
const templateInvalid = (detail: string): AppError =>
  new AppError({ status: 422, code: 'template_invalid', title: 'Unprocessable template', detail })

function instantiate (input: ApplyStackInput, pseudo: { accountId: string, partition: string }): InstantiatedRole {
  try {
    return instantiateRoleTemplate(input.template, input.parameters ?? {}, pseudo)
  } catch (error) {
    // TemplateError (CloudFormation's refusals), YAMLError (not YAML), or a template whose shape
    // the resolver cannot follow: all of them say something about the input, not about deputy.
    // A template nested thousands deep overflows the YAML parser's recursion (a RangeError, which
    // the parser may wrap in a YAMLError): said as such, not in the engine's words.
    const message = (error as Error).message
    const reason = error instanceof RangeError || /call stack/i.test(message)
      ? 'the template nests too deeply to read'
      : error instanceof YAMLError ? `the template is not valid YAML: ${message}` : message
    throw templateInvalid(reason)
  }
}

export function createSandboxService (deps: Deps) {
  return {
    /** Creates (or updates) the template's role in the emulated account; the role ARN is its output. */
    applyStack (awsAccountId: string, input: ApplyStackInput): AppliedStack {
      const role = instantiate(input, { accountId: awsAccountId, partition: deps.partition })
      if (!ROLE_NAME.test(role.roleName)) throw templateInvalid(`RoleName must be 1-64 letters, digits and _+=,.@- (got ${JSON.stringify(role.roleName).slice(0, 80)}); this sandbox does not generate role names`)
      if (!Number.isInteger(role.maxSessionDuration) || role.maxSessionDuration < 3600 || role.maxSessionDuration > 43_200) {
        throw templateInvalid(`MaxSessionDuration must be 3600-43200 seconds, not ${String(role.maxSessionDuration)}`)
      }
      const problems = [
        ...policyDocumentProblems(role.trustPolicy, 'trust').map((p) => `AssumeRolePolicyDocument: ${p}`),
        ...role.inlinePolicies.flatMap((policy) => policyDocumentProblems(policy.document, 'identity').map((p) => `policy ${policy.name}: ${p}`))
      ]
      if (problems.length > 0) throw templateInvalid(`MalformedPolicyDocument: ${problems.join('; ')}`)
      const roleArn = `arn:${deps.partition}:iam::${awsAccountId}:role/${role.roleName}`
      deps.emulator.putRole({ arn: roleArn, trustPolicy: role.trustPolicy, permissions: role.inlinePolicies.map((p) => p.document), maxSessionDuration: role.maxSessionDuration })
      return { awsAccountId, roleName: role.roleName, roleArn, maxSessionDuration: role.maxSessionDuration, outputs: { RoleArn: roleArn } }
    }
  }
}

export type SandboxService = ReturnType<typeof createSandboxService>
