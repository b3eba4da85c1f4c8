// The pino logger. Authorization headers and anything named like a secret are redacted, as a
// second line behind never logging bodies in the first place.
import { pino, type DestinationStream, type Logger } from 'pino'
import type { Config } from './config.js'

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-amz-security-token"]',
  'headers.authorization',
  '*.token',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.SecretAccessKey',
  '*.SessionToken'
]

/**
 * Logs go to stdout without blocking the event loop: writes are handed to the OS asynchronously
 * (no batching, so every line is out as soon as the loop lets go), and pino flushes what is left
 * synchronously when the process exits, crash included.
 */
export function createLogger (config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }))
}
