// What a seal commits to. An event's hash is SHA-256 of the RFC 8785 canonical JSON of every
// column, as the API shows it (seq as a decimal string, occurredAt as ISO 8601 with
// milliseconds). A seal's hash is SHA-256 of the canonical JSON of
// {v, prevHash, fromSeq, throughSeq, events: [event hashes in seq order]}: the previous seal's
// hash, the exact range and the exact list of events in it, so a deleted, altered or inserted
// event, or a seal moved in the chain, changes the recomputed hash.
import { createHash } from 'node:crypto'
import { canonicalJson } from '../../lib/canonical-json.js'
import type { AuditEventRow } from './audit.repository.js'
import { toAuditEventView } from './audit.service.js'

/** prev_hash of the first seal. */
export const GENESIS_HASH = '0'.repeat(64)

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex')

export function eventHash (row: AuditEventRow): string {
  return sha256(canonicalJson(toAuditEventView(row)))
}

export interface SealContent {
  prevHash: string
  fromSeq: bigint
  throughSeq: bigint
  eventHashes: readonly string[]
}

export function sealHash (content: SealContent): string {
  return sha256(canonicalJson({
    v: 1,
    prevHash: content.prevHash,
    fromSeq: content.fromSeq.toString(),
    throughSeq: content.throughSeq.toString(),
    events: content.eventHashes
  }))
}
