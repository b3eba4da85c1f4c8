// Names for the API's shapes, all read from the generated schema.
import type { operations } from './schema'

type Ok<Op extends keyof operations, Status extends number = 200> =
  operations[Op]['responses'] extends Record<Status, { content: { 'application/json': infer Body } }> ? Body : never

export type Customer = Ok<'getCustomer'>
export type CustomerStatus = Customer['status']
export type ExternalId = Ok<'getExternalId'>
export type Connection = Ok<'getConnection'>
export type ProbeReport = Connection['verification']
export type ProbeCall = ProbeReport['calls'][number]
export type OnboardingKit = Ok<'getOnboardingKit'>
export type RevokedConnection = Ok<'revokeConnection'>
export type OffboardedCustomer = Ok<'offboardCustomer'>
export type AuditEvent = Ok<'listAuditEvents'>['items'][number]
export type AuditQuery = NonNullable<operations['listAuditEvents']['parameters']['query']>
export type AuditIntegrity = Ok<'checkAuditIntegrity'>
export type Readiness = Ok<'readyz'>
