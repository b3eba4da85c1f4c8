// Session tags: the vendor's template (SESSION_TAGS), checked against AWS's limits when deputy
// starts, and rendered for each issuance. A template names values deputy knows about the
// request ({customer.reference}, {client.name}, {purpose}, ...) inside literal text; there are no
// expressions, so a template can only ever produce its literal text and those values. Keys are
// literal. Pure: no I/O.
import { charCount, MAX_SESSION_TAGS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, TAG_CHARACTERS } from '../../aws/sts-limits.js'

export const TAG_PLACEHOLDERS = ['customer.id', 'customer.reference', 'customer.name', 'client.id', 'client.name', 'connection.id', 'purpose'] as const
export type TagPlaceholder = typeof TAG_PLACEHOLDERS[number]

type Part = { literal: string } | { placeholder: TagPlaceholder }

export interface SessionTagTemplate {
  key: string
  parts: Part[]
}

export interface SessionTag {
  key: string
  value: string
}

/** What a template is rendered with; customer.reference is the customer's externalRef ('' when unset). */
export type TagContext = Record<TagPlaceholder, string>

export class SessionTagsError extends Error {
  override name = 'SessionTagsError'
}

const ALLOWED = 'letters, digits, spaces and _ . : / = + - @'

function parseValue (key: string, template: string): Part[] {
  const parts: Part[] = []
  // Every "{" opens a placeholder and every "}" closes one: neither is a tag character, so no
  // escape is needed.
  const pattern = /\{([^{}]*)\}|([^{}]+)|([{}])/gy
  for (const match of template.matchAll(pattern)) {
    const [, name, literal, stray] = match
    if (stray !== undefined) throw new SessionTagsError(`tag "${key}": an unmatched "${stray}" in its value; placeholders are {${TAG_PLACEHOLDERS.join('}, {')}}`)
    if (literal !== undefined) {
      if (!TAG_CHARACTERS.test(literal)) throw new SessionTagsError(`tag "${key}": its value has characters AWS does not accept in a tag value (allowed: ${ALLOWED})`)
      parts.push({ literal })
      continue
    }
    if (!(TAG_PLACEHOLDERS as readonly string[]).includes(name ?? '')) {
      throw new SessionTagsError(`tag "${key}": {${(name ?? '').slice(0, 40)}} is not a placeholder; use {${TAG_PLACEHOLDERS.join('}, {')}}`)
    }
    parts.push({ placeholder: name as TagPlaceholder })
  }
  const fixed = parts.reduce((n, part) => n + ('literal' in part ? charCount(part.literal) : 0), 0)
  if (fixed > MAX_TAG_VALUE_CHARS) throw new SessionTagsError(`tag "${key}": its literal text alone is ${fixed} characters; AWS allows ${MAX_TAG_VALUE_CHARS} in a value`)
  return parts
}

/** SESSION_TAGS: a JSON object of tag key to value template. Throws SessionTagsError. */
export function parseSessionTags (raw: string): SessionTagTemplate[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new SessionTagsError('is not valid JSON; expected an object such as {"deputy:customer": "{customer.reference}", "deputy:purpose": "{purpose}"}')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SessionTagsError('must be a JSON object of tag key to value template')
  const entries = Object.entries(parsed)
  if (entries.length > MAX_SESSION_TAGS) throw new SessionTagsError(`has ${entries.length} tags; AWS allows ${MAX_SESSION_TAGS} on a session`)
  const seen = new Set<string>()
  return entries.map(([key, template]) => {
    const length = charCount(key)
    if (length < 1 || length > MAX_TAG_KEY_CHARS || !TAG_CHARACTERS.test(key)) {
      throw new SessionTagsError(`tag key "${key.slice(0, 140)}" must be 1-${MAX_TAG_KEY_CHARS} of ${ALLOWED}`)
    }
    // AWS reserves the aws: prefix; keys differing only in case are one tag to AWS.
    if (key.toLowerCase().startsWith('aws:')) throw new SessionTagsError(`tag key "${key}": the aws: prefix is reserved by AWS`)
    if (seen.has(key.toLowerCase())) throw new SessionTagsError(`tag key "${key}" appears twice (AWS compares tag keys without case)`)
    seen.add(key.toLowerCase())
    if (typeof template !== 'string') throw new SessionTagsError(`tag "${key}": the value must be a string template`)
    return { key, parts: parseValue(key, template) }
  })
}

/** Why a rendered value cannot be a tag value, or undefined when it can. */
function valueProblem (value: string): string | undefined {
  if (charCount(value) > MAX_TAG_VALUE_CHARS) return `is ${charCount(value)} characters; AWS allows ${MAX_TAG_VALUE_CHARS}`
  if (!TAG_CHARACTERS.test(value)) return `has characters AWS does not accept in a tag value (allowed: ${ALLOWED})`
  return undefined
}

export type RenderedTags =
  | { ok: true, tags: SessionTag[] }
  | { ok: false, key: string, placeholders: TagPlaceholder[], problem: string }

export function renderSessionTags (templates: readonly SessionTagTemplate[], context: TagContext): RenderedTags {
  const tags: SessionTag[] = []
  for (const { key, parts } of templates) {
    const value = parts.map((part) => 'literal' in part ? part.literal : context[part.placeholder]).join('')
    const problem = valueProblem(value)
    if (problem !== undefined) {
      return { ok: false, key, placeholders: parts.flatMap((part) => 'placeholder' in part ? [part.placeholder] : []), problem }
    }
    tags.push({ key, value })
  }
  return { ok: true, tags }
}

/** The probe's tags: every placeholder is "deputy-probe", so a probe asks for the same keys as issuance. */
export const PROBE_TAG_CONTEXT: TagContext = Object.fromEntries(TAG_PLACEHOLDERS.map((name) => [name, 'deputy-probe'])) as TagContext
