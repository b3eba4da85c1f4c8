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
 * Logs go to stdout without blocking the event loop: lines are written asynchronously (those
 * logged while a write is in flight go out together with the next), and pino flushes what is
 * left when the process exits, an uncaught error included. The price: lines still buffered are
 * lost if the process is killed outright (SIGKILL, out of memory).
 */
export function createLogger (config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }))
}
