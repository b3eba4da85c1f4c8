// The mixed load of the reliability tests: external-ID mints, credential issuance, reads and
// audit queries over a scene of customers and connections, with what each success returned kept
// for the SQL checks afterwards.
import type { Operation } from './load.js'
import type { SceneCustomer } from './scene.js'

export interface Issued { auditEventId: string, accessKeyId: string, connectionId: string }
export interface Minted { id: string, externalId: string, customerId: string, awsAccountId: string }

export interface Mix {
  operations: Operation[]
  issued: Issued[]
  minted: Minted[]
}

export interface MixWeights { mint: number, issue: number, read: number, audit: number }

export function mixedLoad (scene: SceneCustomer[], weights: MixWeights, accountBase = 400_000_000_000): Mix {
  const issued: Issued[] = []
  const minted: Minted[] = []
  let mints = 0
  const connections = scene.flatMap((customer) => customer.connections.map((connection) => ({ ...connection, customerId: customer.id })))
  const customerOf = (i: number): SceneCustomer => scene[i % scene.length] as SceneCustomer
  const connectionOf = (i: number): { id: string, customerId: string } => connections[i % connections.length] as { id: string, customerId: string }
  const all: Operation[] = [
    {
      name: 'mint',
      weight: weights.mint,
      // Its own counter: a new AWS account for every mint, however many loads share this mix.
      next: (i) => ({ method: 'POST', path: `/v1/customers/${customerOf(i).id}/external-ids`, body: { awsAccountId: String(accountBase + mints++) } }),
      onSuccess: (body) => {
        const b = body as { id: string, externalId: string, customerId: string, awsAccountId: string }
        minted.push({ id: b.id, externalId: b.externalId, customerId: b.customerId, awsAccountId: b.awsAccountId })
      }
    },
    {
      name: 'issue',
      weight: weights.issue,
      next: (i) => ({ method: 'POST', path: `/v1/connections/${connectionOf(i).id}/credentials`, body: { purpose: `reliability ${i}`, durationSeconds: 900 } }),
      onSuccess: (body, spec) => {
        const b = body as { auditEventId: string, credentials: { accessKeyId: string } }
        issued.push({ auditEventId: b.auditEventId, accessKeyId: b.credentials.accessKeyId, connectionId: spec.path.split('/')[3] ?? '' })
      }
    },
    {
      name: 'read',
      weight: weights.read,
      next: (i) => i % 2 === 0
        ? { method: 'GET', path: `/v1/connections/${connectionOf(i).id}` }
        : { method: 'GET', path: `/v1/customers/${customerOf(i).id}/external-ids?limit=20` }
    },
    {
      name: 'audit',
      weight: weights.audit,
      next: (i) => ({ method: 'GET', path: `/v1/audit-events?customerId=${customerOf(i).id}&limit=20` })
    }
  ]
  return { operations: all.filter((op) => op.weight > 0), issued, minted }
}
