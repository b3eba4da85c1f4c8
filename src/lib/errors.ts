// The one error family. Services throw AppError; the error handler turns it into an RFC 9457
// problem. `code` is stable and documented: clients branch on it, never on `detail`.
export interface AppErrorInit {
  status: number
  code: string
  title: string
  detail: string
  /** Extra members of the problem object (e.g. the id of a conflicting resource). */
  extensions?: Record<string, unknown>
  headers?: Record<string, string>
  /** The service already wrote the audit event for this refusal (no generic one is added). */
  audited?: boolean
}

export class AppError extends Error {
  override name = 'AppError'
  readonly status: number
  readonly code: string
  readonly title: string
  readonly extensions: Record<string, unknown>
  readonly headers: Record<string, string>
  readonly audited: boolean

  constructor (init: AppErrorInit, options?: { cause?: unknown }) {
    super(init.detail, options)
    this.status = init.status
    this.code = init.code
    this.title = init.title
    this.extensions = init.extensions ?? {}
    this.headers = init.headers ?? {}
    this.audited = init.audited ?? false
  }
}

export const notFound = (what: string, id: string, options: { audited?: boolean } = {}): AppError =>
  new AppError({ status: 404, code: 'not_found', title: 'Not found', detail: `${what} ${id} does not exist`, ...options })

export const badRequest = (code: string, detail: string): AppError =>
  new AppError({ status: 400, code, title: 'Bad request', detail })

export const conflict = (code: string, detail: string, extensions?: Record<string, unknown>): AppError =>
  new AppError({ status: 409, code, title: 'Conflict', detail, ...(extensions === undefined ? {} : { extensions }) })

export const forbidden = (code: string, detail: string): AppError =>
  new AppError({ status: 403, code, title: 'Forbidden', detail })

/** The token is missing, unknown or revoked (RFC 6750's challenge in the header). */
export const unauthorized = (detail: string): AppError => new AppError({
  status: 401,
  code: 'unauthorized',
  title: 'Unauthorized',
  detail,
  headers: { 'www-authenticate': 'Bearer realm="deputy"' }
})

/** deputy cannot start as configured (e.g. its AWS identity is not the configured principal). */
export class StartupError extends Error {
  override name = 'StartupError'
}
