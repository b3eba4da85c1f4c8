// API tokens: "dpt_" + 32 random bytes (base64url). Shown once at creation; only the SHA-256
// is stored, so a database leak does not leak working tokens.
import { createHash, randomBytes } from 'node:crypto'

export const TOKEN_PREFIX = 'dpt_'

export const generateToken = (): string => TOKEN_PREFIX + randomBytes(32).toString('base64url')

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')
