// AWS STS AssumeRole parameter limits, shared by deputy's own validation and the emulator.
export const ROLE_SESSION_NAME = /^[\w+=,.@-]{2,64}$/
export const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/
export const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/
export const MIN_DURATION_SECONDS = 900
export const MAX_DURATION_SECONDS = 43_200
/** Sessions of a role assuming another role (role chaining) last at most an hour. */
export const ROLE_CHAINING_MAX_SECONDS = 3600
export const MAX_SESSION_POLICY_CHARS = 2048
export const MAX_POLICY_ARNS = 10

/** Characters outside [\w+=,.@-] become "-", and the result is cut to `max`. */
export function toStsName (raw: string, max = 64): string {
  return raw.replace(/[^\w+=,.@-]/g, '-').slice(0, max)
}
