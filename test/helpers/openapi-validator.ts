// Checks HTTP responses against the committed openapi.yaml: the status is documented for the
// operation, the content type is one it documents, the body matches the documented schema
// (JSON Schema 2020-12, as OpenAPI 3.1 says, `$ref`s resolved inside the document) and the
// headers it marks required are there and well-formed. buildTestApp runs every response the
// suite sees through it.
import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import { parse } from 'yaml'

export interface ObservedResponse {
  method: string
  /** The request URL as sent (path and query). */
  url: string
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

export interface ResponseCheck {
  /** `METHOD /path/{template}`; undefined when the request is not a documented operation. */
  operation: string | undefined
  /** What does not match openapi.yaml; empty when the response conforms. */
  problems: string[]
}

interface HeaderObject { required?: boolean, schema?: object, $ref?: string }
interface ResponseObject { headers?: Record<string, HeaderObject>, content?: Record<string, unknown>, $ref?: string }
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>
  components?: { headers?: Record<string, HeaderObject> }
}

const DOCUMENT_ID = 'https://deputy.invalid/openapi.yaml'
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

const pointerSegment = (segment: string): string => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))

const isJson = (mediaType: string): boolean => mediaType === 'application/json' || mediaType.endsWith('+json')

function headerValue (headers: ObservedResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()]
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

export class OpenApiValidator {
  readonly #document: OpenApiDocument
  readonly #ajv: Ajv2020
  // Header values arrive as text: a second Ajv coerces them to the documented type.
  readonly #headerAjv: Ajv2020
  readonly #validators = new Map<string, ValidateFunction>()
  /** Documented paths as patterns, literal segments before parameters. */
  readonly #paths: Array<{ path: string, pattern: RegExp }>

  constructor (document: OpenApiDocument) {
    this.#document = document
    const addFormats = ajvFormats.default
    this.#ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, validateSchema: false }))
    this.#ajv.addSchema(document as object, DOCUMENT_ID)
    this.#headerAjv = addFormats(new Ajv2020({ strict: false, allErrors: true, coerceTypes: true }))
    this.#paths = Object.keys(document.paths)
      .map((path) => ({
        path,
        params: (path.match(/\{[^}]+\}/g) ?? []).length,
        pattern: new RegExp(`^${path.split('/').map((s) => /^\{[^}]+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')).join('/')}$`)
      }))
      .sort((a, b) => a.params - b.params)
  }

  /** The documented path template a request path falls under. */
  pathOf (url: string): string | undefined {
    const pathname = url.replace(/^[a-z]+:\/\/[^/]+/i, '').split(/[?#]/)[0] ?? ''
    return this.#paths.find(({ pattern }) => pattern.test(pathname))?.path
  }

  check (response: ObservedResponse): ResponseCheck {
    const path = this.pathOf(response.url)
    const requested = response.method.toLowerCase()
    // HEAD answers as GET does, without a body.
    const method = requested === 'head' ? 'get' : requested
    const operation = path === undefined ? undefined : this.#document.paths[path]?.[method]
    if (path === undefined || operation === undefined || !METHODS.has(method)) return { operation: undefined, problems: [] }
    const name = `${method.toUpperCase()} ${path}`
    const responses = operation.responses ?? {}
    const status = String(response.statusCode)
    const key = [status, `${status[0] ?? ''}XX`, 'default'].find((k) => responses[k] !== undefined)
    const documented = key === undefined ? undefined : this.#resolve(responses[key])
    if (key === undefined || documented === undefined) {
      return { operation: name, problems: [`status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`] }
    }
    const problems: string[] = []

    for (const [header, declared] of Object.entries(documented.headers ?? {})) {
      const spec = this.#resolve(declared)
      const value = headerValue(response.headers, header)
      if (value === undefined) {
        if (spec?.required === true) problems.push(`required header ${header} is missing`)
        continue
      }
      if (spec?.schema !== undefined) {
        const validate = this.#headerValidator(header, spec.schema)
        if (!validate({ [header]: value })) problems.push(`header ${header}: ${JSON.stringify(value)} ${this.#headerAjv.errorsText(validate.errors, { dataVar: 'header' })}`)
      }
    }

    const hasBody = response.body.length > 0 && requested !== 'head'
    const contentType = headerValue(response.headers, 'content-type')
    const mediaType = contentType?.split(';')[0]?.trim().toLowerCase()
    const content = documented.content
    if (content === undefined || Object.keys(content).length === 0) {
      if (hasBody) problems.push(`a body (${contentType ?? 'no content type'}) where none is documented`)
      return { operation: name, problems }
    }
    if (!hasBody) {
      // An NDJSON stream with no line is a complete, empty answer.
      if (requested !== 'head' && content['application/x-ndjson'] === undefined) problems.push(`no body; documented: ${Object.keys(content).join(', ')}`)
      return { operation: name, problems }
    }
    if (mediaType === undefined || content[mediaType] === undefined) {
      problems.push(`content type ${contentType ?? '(none)'} is not documented (documented: ${Object.keys(content).join(', ')})`)
      return { operation: name, problems }
    }
    if (!isJson(mediaType)) return { operation: name, problems }
    let body: unknown
    try {
      body = JSON.parse(response.body)
    } catch {
      problems.push(`the ${mediaType} body is not JSON: ${response.body.slice(0, 200)}`)
      return { operation: name, problems }
    }
    const validate = this.#validator(path, method, key, mediaType)
    if (validate !== undefined && !validate(body)) {
      problems.push(`body does not match the ${mediaType} schema: ${this.#ajv.errorsText(validate.errors, { dataVar: 'body' })}`, `ajv errors: ${JSON.stringify(validate.errors)}`)
    }
    return { operation: name, problems }
  }

  /** check(), as one message naming the request, or undefined when it conforms or is not an operation. */
  violation (response: ObservedResponse): string | undefined {
    const { operation, problems } = this.check(response)
    if (operation === undefined || problems.length === 0) return undefined
    return [
      `${response.method} ${response.url} answered ${response.statusCode}, which does not match openapi.yaml (${operation}):`,
      ...problems.map((p) => `  - ${p}`),
      `  body: ${response.body.slice(0, 500)}`
    ].join('\n')
  }

  #resolve<T extends { $ref?: string }> (value: T | undefined): T | undefined {
    const ref = value?.$ref
    if (ref === undefined) return value
    const parts = ref.replace(/^#\//, '').split('/').map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))
    let target: unknown = this.#document
    for (const part of parts) target = (target as Record<string, unknown> | undefined)?.[part]
    return this.#resolve(target as T | undefined)
  }

  #headerValidator (header: string, schema: object): ValidateFunction {
    const key = `${header} ${JSON.stringify(schema)}`
    let validate = this.#validators.get(key)
    if (validate === undefined) {
      validate = this.#headerAjv.compile({ type: 'object', properties: { [header]: schema } })
      this.#validators.set(key, validate)
    }
    return validate
  }

  #validator (path: string, method: string, status: string, mediaType: string): ValidateFunction | undefined {
    const pointer = ['paths', path, method, 'responses', status, 'content', mediaType, 'schema'].map(pointerSegment).join('/')
    let validate = this.#validators.get(pointer)
    if (validate === undefined) {
      const response = this.#document.paths[path]?.[method]?.responses?.[status]
      const media = response?.content?.[mediaType] as { schema?: unknown } | undefined
      if (media?.schema === undefined) return undefined
      validate = this.#ajv.getSchema(`${DOCUMENT_ID}#/${pointer}`)
      if (validate === undefined) throw new Error(`openapi.yaml: cannot compile the schema at #/${pointer}`)
      this.#validators.set(pointer, validate)
    }
    return validate
  }
}

let shared: OpenApiValidator | undefined

/** The validator for the committed openapi.yaml (read once per process). */
export function openApiValidator (): OpenApiValidator {
  shared ??= new OpenApiValidator(parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as OpenApiDocument)
  return shared
}
