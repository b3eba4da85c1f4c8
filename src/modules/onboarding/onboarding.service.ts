// The onboarding kit of one active external ID: the trust policy and the role as CloudFormation,
// a quick-create link, Terraform and AWS CLI, built from the vendor's configuration. Reads only.
import { parsePrincipalArn } from '../../aws/arn.js'
import type { OnboardingConfig } from '../../config.js'
import type { PrismaClient } from '../../db/database.js'
import { tenantOf, type Caller } from '../../lib/caller.js'
import { AppError, conflict, notFound } from '../../lib/errors.js'
import { requireAws, type AwsAccess } from '../connections/aws-access.js'
import type { CustomersRepository } from '../customers/customers.repository.js'
import type { ExternalIdRow, ExternalIdsRepository } from '../external-ids/external-ids.repository.js'
import type { ExternalIdsService } from '../external-ids/external-ids.service.js'
import type { ExternalIdView } from '../external-ids/external-ids.schemas.js'
import type { RoleSpec } from './cloudformation.js'
import { buildOnboardingKit } from './onboarding-kit.js'
import type { OnboardingKitView } from './onboarding.schemas.js'

export interface Deps {
  prisma: PrismaClient
  externalIdsRepository: Pick<ExternalIdsRepository, 'findById' | 'findActiveSuccessor'>
  externalIds: Pick<ExternalIdsService, 'rotate'>
  customersRepository: Pick<CustomersRepository, 'findById'>
  aws: AwsAccess | undefined
  settings: OnboardingConfig
}

/** The role the configuration describes, for the vendor principal deputy runs as. */
export function roleSpecOf (settings: OnboardingConfig, aws: { vendorPrincipalArn: string, sourceIdentity: boolean, sessionTags?: readonly unknown[] | undefined }): RoleSpec {
  return {
    vendorPrincipalArn: aws.vendorPrincipalArn,
    sourceIdentity: aws.sourceIdentity,
    tagSession: (aws.sessionTags?.length ?? 0) > 0,
    roleName: settings.roleName,
    maxSessionDuration: settings.maxSessionDuration,
    permissions: settings.permissions,
    permissionsBoundaryArn: settings.permissionsBoundaryArn
  }
}

export function createOnboardingService (deps: Deps) {
  const { prisma, externalIdsRepository, customersRepository, settings } = deps

  /** The vendor principal, if customers can be told to trust it. */
  function vendorPrincipal (): { vendorPrincipalArn: string, sourceIdentity: boolean, sessionTags: readonly unknown[], partition: string } {
    const { vendorPrincipalArn, sourceIdentity, sessionTags } = requireAws(deps.aws).settings
    const principal = parsePrincipalArn(vendorPrincipalArn)
    if (principal === undefined || principal.kind === 'assumed-role') {
      throw new AppError({ status: 503, code: 'onboarding_unavailable', title: 'Service unavailable', detail: `VENDOR_PRINCIPAL_ARN is a role session (${vendorPrincipalArn}); customers must trust the role itself, so deputy hands out no onboarding kit until VENDOR_PRINCIPAL_ARN names the role (arn:${principal?.partition ?? 'aws'}:iam::<account>:role/<path/>name)` })
    }
    return { vendorPrincipalArn, sourceIdentity, sessionTags, partition: principal.partition }
  }

  /**
   * The IDs the role must accept: this one, or during a rotation the successor and the
   * predecessor (both active), whichever of the two was asked for.
   */
  async function acceptedIds (scope: ReturnType<typeof tenantOf>, row: ExternalIdRow): Promise<{ ids: string[], rotation: OnboardingKitView['rotation'] }> {
    const successor = await externalIdsRepository.findActiveSuccessor(prisma, row.id)
    if (successor !== null) return { ids: [successor.value, row.value], rotation: { predecessorExternalIdId: row.id, successorExternalIdId: successor.id } }
    if (row.predecessorId !== null) {
      const predecessor = await externalIdsRepository.findById(prisma, scope, row.predecessorId)
      if (predecessor?.status === 'active') return { ids: [row.value, predecessor.value], rotation: { predecessorExternalIdId: predecessor.id, successorExternalIdId: row.id } }
    }
    return { ids: [row.value], rotation: null }
  }

  async function kit (caller: Caller, externalIdId: string): Promise<OnboardingKitView> {
    const vendor = vendorPrincipal()
    const scope = tenantOf(caller.actor)
    const row = await externalIdsRepository.findById(prisma, scope, externalIdId)
    if (row === null) throw notFound('external ID', externalIdId)
    if (row.status !== 'active') {
      throw conflict('external_id_not_active', `external ID ${externalIdId} is ${row.status}: deputy never uses it again, so it hands out no onboarding kit for it; mint a new one for AWS account ${row.awsAccountId}`)
    }
    // A kit invites the customer to trust deputy: never for a customer who cannot be served.
    const customer = await customersRepository.findById(prisma, scope, row.customerId)
    if (customer?.status !== 'active') {
      throw conflict('customer_not_active', `customer ${row.customerId} is ${customer?.status ?? 'gone'}; deputy hands out onboarding kits only for active customers`)
    }
    const { ids, rotation } = await acceptedIds(scope, row)
    const built = buildOnboardingKit({
      ...roleSpecOf(settings, vendor),
      externalIds: ids,
      templateUrl: settings.templateUrl,
      region: settings.region,
      awsAccountId: row.awsAccountId
    })
    return {
      externalIdId: row.id,
      customerId: row.customerId,
      externalId: row.value,
      awsAccountId: row.awsAccountId,
      vendorPrincipalArn: vendor.vendorPrincipalArn,
      roleName: settings.roleName,
      roleArn: `arn:${vendor.partition}:iam::${row.awsAccountId}:role/${settings.roleName}`,
      maxSessionDuration: settings.maxSessionDuration,
      rotation,
      ...built,
      warnings: settings.warnings
    }
  }

  return {
    kit,
    /**
     * The kit to deploy once a rotation completed: the successor alone, so the retired predecessor
     * leaves the trust policy. Null when there is none to give (VENDOR_PRINCIPAL_ARN is a role
     * session, or the ID was retired meanwhile): the rotation itself has already been committed.
     */
    async finalKit (caller: Caller, externalIdId: string): Promise<OnboardingKitView | null> {
      const principal = parsePrincipalArn(requireAws(deps.aws).settings.vendorPrincipalArn)
      if (principal === undefined || principal.kind === 'assumed-role') return null
      const row = await externalIdsRepository.findById(prisma, tenantOf(caller.actor), externalIdId)
      return row?.status === 'active' ? kit(caller, externalIdId) : null
    },
    /**
     * Starts a two-step rotation: mints the successor of an active external ID and returns the
     * kit the customer deploys next, whose trust policy accepts both IDs.
     */
    async rotate (caller: Caller, externalIdId: string): Promise<{ predecessor: ExternalIdView, successor: ExternalIdView, onboarding: OnboardingKitView }> {
      vendorPrincipal()
      const { predecessor, successor } = await deps.externalIds.rotate(caller, externalIdId)
      return { predecessor, successor, onboarding: await kit(caller, successor.id) }
    }
  }
}

export type OnboardingService = ReturnType<typeof createOnboardingService>
