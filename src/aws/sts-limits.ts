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

// Session tags (STS API reference, Tag and AssumeRole): at most 50 per session; a key is 1-128
// characters, a value 0-256, both from [\p{L}\p{Z}\p{N}_.:/=+\-@]. Keys are case-insensitive
// (Department and department are the same tag). AWS also packs tags with the session policies
// into a form whose size it does not document as a number (PackedPolicyTooLarge).
export const MAX_SESSION_TAGS = 50
export const MAX_TAG_KEY_CHARS = 128
export const MAX_TAG_VALUE_CHARS = 256
export const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u
/** Characters, as AWS counts them (code points, not UTF-16 units). */
export const charCount = (value: string): number => [...value].length
