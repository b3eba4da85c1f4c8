// deputy answers every error as an RFC 9457 problem document. The console shows its `detail`
// (written for people) and the request id to quote to support, never a bare status code.
export interface ProblemDocument {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
  requestId?: string
  errors?: Array<{ in: string, pointer: string, detail: string }>
  [extension: string]: unknown
}

export class ApiProblem extends Error {
  readonly status: number
  readonly code: string
  readonly title: string
  readonly detail: string
  readonly requestId: string | null
  readonly document: ProblemDocument
  /** Seconds to wait before asking again (a 429's or 503's Retry-After), when deputy said. */
  readonly retryAfter: number | null

  constructor (status: number, document: ProblemDocument, requestId: string | null, retryAfter: number | null = null) {
    const detail = document.detail ?? document.title ?? `deputy answered ${status}`
    super(detail)
    this.name = 'ApiProblem'
    this.status = status
    this.code = document.code ?? 'unknown'
    this.title = document.title ?? 'Request failed'
    this.detail = detail
    this.requestId = document.requestId ?? requestId
    this.retryAfter = retryAfter
    this.document = document
  }
}

/** What to tell a person about a failure that is not a problem document (network, parsing). */
export function toProblem (error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error
  const message = error instanceof Error ? error.message : String(error)
  // The health check (freeze-banner.ts) looks at once, and says it in one banner if deputy is down.
  dispatchEvent(new Event('deputy:no-answer'))
  return new ApiProblem(0, { title: 'deputy could not be reached', detail: `The request did not get an answer from deputy (${message}). Check your connection and retry.`, code: 'network_error' }, null)
}

const GUIDANCE: Record<number, string> = {
  401: 'Sign in again with a valid API token.',
  403: 'Ask an administrator for a token with this scope.',
  404: 'It does not exist, or your token cannot see it.',
  429: 'Wait a moment, then retry.',
  503: 'deputy or AWS is unavailable right now; retry shortly.'
}

/** A sentence on what to do next, for the statuses a person can act on. */
export const guidanceFor = (status: number): string | undefined => GUIDANCE[status]
