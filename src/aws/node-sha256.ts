// SHA-256 and HMAC-SHA-256 in the shape @smithy/signature-v4 expects, backed by node:crypto: the
// emulator verifies signatures with it, and deputy signs its IAM requests with it.
import { createHash, createHmac } from 'node:crypto'

type SourceData = string | ArrayBuffer | ArrayBufferView

const toBytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)

export class NodeSha256 {
  private readonly hash
  constructor (secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret))
  }

  update (data: SourceData): void { this.hash.update(toBytes(data)) }
  async digest (): Promise<Uint8Array> { return new Uint8Array(this.hash.digest()) }
}
