// Route schemas compiled when a route is first used, not when deputy starts: compiling every
// validator (ajv) and response serializer (fast-json-stringify) up front was a fifth of deputy's
// start-up CPU (bench/RESULTS.md, goal 4). The first request of each route pays its own compile.
import { Ajv } from 'ajv'
import ajvFormats from 'ajv-formats'
import type { FastifySchemaCompiler, FastifySchemaValidationError, FastifyServerOptions } from 'fastify'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type Validate = ((data: unknown, context?: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null }

/**
 * A validator that compiles on first call and reports its errors the way ajv's do. (Fastify
 * passes ajv's validators a context to replace a scalar root; deputy's roots are objects, but
 * the context is passed through all the same.) test/openapi.test.ts compiles every route's
 * schemas, so a broken one fails the tests rather than its route's first request.
 */
function lazyValidator (compile: () => Validate): Validate {
  let compiled: Validate | undefined
  const validate: Validate = (data, context) => {
    compiled ??= compile()
    const valid = compiled(data, context)
    validate.errors = compiled.errors
    return valid
  }
  validate.errors = null
  return validate
}

/**
 * Two validators: query strings, params and headers arrive as text and are coerced to their
 * schema types; JSON bodies are taken exactly as sent (coercion would, for instance, turn a
 * one-element list in an IAM policy into a string). Both report every problem at once and treat
 * unknown fields as errors rather than dropping them.
 */
export function validatorCompiler (): FastifySchemaCompiler<unknown> {
  const options = { removeAdditional: false, allErrors: true, useDefaults: true, strict: false } as const
  // ajv-formats is CommonJS: its function is the default export's `default`.
  const addFormats = ajvFormats.default
  // ajv-formats' "uuid" also accepts a "urn:uuid:" prefix, which PostgreSQL does not: ids are
  // the 36-character form only.
  const withFormats = (ajv: Ajv): Ajv => addFormats(ajv).addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
  const text = withFormats(new Ajv({ ...options, coerceTypes: 'array' }))
  const json = withFormats(new Ajv({ ...options, coerceTypes: false }))
  return ({ schema, httpPart }) => lazyValidator(() => (httpPart === 'body' ? json : text).compile(schema as object) as Validate)
}

type BuildSerializer = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']>

/** Fastify's own serializer compiler (fast-json-stringify), deferred to each route's first answer. */
export function lazySerializerFactory (): BuildSerializer {
  const factory = SerializerSelector()
  return (externalSchemas, options) => {
    const build = factory(externalSchemas as Parameters<typeof factory>[0], options as Parameters<typeof factory>[1])
    return (route) => {
      let serialize: ((data: unknown) => string) | undefined
      return (data: unknown) => {
        serialize ??= build(route as Parameters<typeof build>[0]) as (data: unknown) => string
        return serialize(data)
      }
    }
  }
}
