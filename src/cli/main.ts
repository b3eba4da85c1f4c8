// The deputy command: serve, migrate, and API-client administration for operators with
// database access (the way a first admin token is made without DEPUTY_BOOTSTRAP_ADMIN_TOKEN).
import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import type { TSchema } from 'typebox'
import { validatorCompiler } from '../app.js'
import { ConfigError, loadConfig } from '../config.js'
import { openDatabase, type Database } from '../db/database.js'
import { MigrationError } from '../db/migrate.js'
import { AppError, StartupError } from '../lib/errors.js'
import type { Caller } from '../lib/caller.js'
import { isScope } from '../modules/api-clients/scopes.js'
import { AuditExportQuerySchema, AuditQuerySchema, type AuditExportQuery, type AuditQuery } from '../modules/audit/audit.schemas.js'
import { createAuditIntegrity } from '../modules/audit/integrity.js'
import { createSealRepository } from '../modules/audit/seal.repository.js'
import { renderGenericTemplate } from '../modules/onboarding/cloudformation.js'
import { roleSpecOf } from '../modules/onboarding/onboarding.service.js'
import { OnboardingInputError } from '../modules/onboarding/trust-policy.js'
import { startServer } from '../server.js'
import { createServices, type Services } from '../services.js'

const USAGE = `usage: deputy <command>

  serve                                   start the API server (the default)
  migrate                                 apply database migrations and exit
  api-clients create --name N --scopes a,b [--customer-id ID]
                                          create an API client; prints its token once
  api-clients list                        list API clients
  api-clients revoke ID                   revoke an API client
  connections revoke ID --reason R        revoke a connection for good (prints the impact)
  customers suspend ID --reason R         stop all issuance and probing for a customer
  customers resume ID                     resume a suspended customer
  customers offboard ID --reason R        revoke, retire and offboard a customer for good
  freeze --reason R                       emergency stop: no credentials leave any replica
  unfreeze                                lift the emergency stop
  audit verify [--full]                   check the audit trail against its seal chain (every
                                          seal: a new process has verified none); exit 1 on a break
  audit query [filters] [--order desc|asc] [--limit N] [--cursor C]
                                          one page of GET /v1/audit-events as JSON, with nextCursor
  audit export [--customer-id ID] [--since T] [--until T] [--after-seq N] [--output FILE]
                                          GET /v1/audit-events/export: NDJSON in seq order through
                                          the sealed horizon, to stdout or FILE
    filters: --customer-id ID --action A --outcome success|failure|denied --client-id ID
             --resource-id R --since T --until T (T: RFC 3339, e.g. 2026-01-31T00:00:00Z)
  onboarding template                     print the generic CloudFormation template of the
                                          customer's role (publish it at ONBOARDING_TEMPLATE_URL)
  credentials --connection ID --purpose P [--duration S]
                                          an AWS credential_process: credentials from deputy's
                                          API (DEPUTY_URL, DEPUTY_TOKEN or DEPUTY_TOKEN_FILE)

Configuration comes from environment variables; see README.md.`

// The CLI acts with direct database access; its audit events carry no client id.
const CLI_CALLER: Caller = {
  actor: { clientId: null, clientName: 'deputy-cli', customerId: null, scopes: ['admin'] },
  request: { requestId: `cli-${process.pid}`, sourceIp: null, userAgent: 'deputy-cli' }
}

async function withDatabase<T> (run: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(loadConfig().database)
  try {
    return await run(database)
  } finally {
    await database.close()
  }
}

async function apiClientsCommand (args: string[]): Promise<void> {
  const [sub, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' }, 'customer-id': { type: 'string' } }
  })
  await withDatabase(async (database) => {
    const { apiClients } = createServices(database.prisma)
    if (sub === 'create') {
      const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
      const unknown = scopes.filter((s) => !isScope(s))
      if (values.name === undefined || scopes.length === 0 || unknown.length > 0) {
        throw new UsageError(unknown.length > 0 ? `unknown scopes: ${unknown.join(', ')}` : 'create needs --name and --scopes')
      }
      const created = await apiClients.create(CLI_CALLER, { name: values.name, scopes: scopes.filter(isScope), ...(values['customer-id'] === undefined ? {} : { customerId: values['customer-id'] }) })
      process.stdout.write(JSON.stringify(created, null, 2) + '\n')
    } else if (sub === 'list') {
      let cursor: string | undefined
      do {
        const page = await apiClients.list({ limit: 500, cursor })
        for (const client of page.items) process.stdout.write(JSON.stringify(client) + '\n')
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
    } else if (sub === 'revoke' && positionals[0] !== undefined) {
      process.stdout.write(JSON.stringify(await apiClients.revoke(CLI_CALLER, positionals[0]), null, 2) + '\n')
    } else {
      throw new UsageError('api-clients takes create, list or revoke ID')
    }
  })
}

// The flags of `audit query` and `audit export`, and the API query parameter each one sets.
const AUDIT_FLAGS = {
  'customer-id': 'customerId',
  action: 'action',
  outcome: 'outcome',
  'client-id': 'actorClientId',
  'resource-id': 'resourceId',
  since: 'since',
  until: 'until',
  order: 'order',
  limit: 'limit',
  cursor: 'cursor',
  'after-seq': 'afterSeq'
} as const
const EXPORT_FLAGS = ['customer-id', 'since', 'until', 'after-seq'] as const
const QUERY_FLAGS = ['customer-id', 'action', 'outcome', 'client-id', 'resource-id', 'since', 'until', 'order', 'limit', 'cursor'] as const

interface AjvError { instancePath: string, keyword: string, params: Record<string, unknown>, message?: string }

/**
 * The flags as the API's query string, checked by the API's own validator and schema (so the
 * CLI accepts exactly what the route accepts); a problem is a usage error naming the flag.
 */
function auditQueryOf (sub: string, args: string[], flags: ReadonlyArray<keyof typeof AUDIT_FLAGS>, schema: TSchema, extra: Record<string, { type: 'string' }> = {}): { query: Record<string, unknown>, values: Record<string, string | undefined> } {
  // Strict: an unknown flag, a flag without its value or a stray argument is a usage error (main).
  const { values } = parseArgs({ args, options: { ...Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])), ...extra } })
  const query: Record<string, unknown> = {}
  for (const flag of flags) {
    const value = (values as Record<string, string | undefined>)[flag]
    if (value !== undefined) query[AUDIT_FLAGS[flag]] = value
  }
  const validate = validatorCompiler()({ schema, method: 'GET', url: '/v1/audit-events', httpPart: 'querystring' }) as ((data: unknown) => boolean) & { errors?: AjvError[] | null }
  if (!validate(query)) {
    // One problem per flag; a value outside a list of literals names the allowed ones.
    const problems = new Map<string, string>()
    for (const error of validate.errors ?? []) {
      const flag = Object.entries(AUDIT_FLAGS).find(([, param]) => `/${param}` === error.instancePath)?.[0] ?? error.instancePath
      const allowed = (validate.errors ?? []).filter((e) => e.instancePath === error.instancePath && e.keyword === 'const').map((e) => String(e.params.allowedValue))
      if (!problems.has(flag)) problems.set(flag, allowed.length > 0 ? `must be one of ${allowed.join(', ')}` : error.message ?? 'is invalid')
    }
    throw new UsageError(`audit ${sub}: ${[...problems].map(([flag, problem]) => `--${flag} ${problem}`).join('; ')}`)
  }
  return { query, values: values as Record<string, string | undefined> }
}

/** A 400 from the audit service (a cursor or instant it cannot use) is the caller's usage error. */
async function usageOn400<T> (run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (error instanceof AppError && error.status === 400) throw new UsageError(`${error.code}: ${error.message}`)
    throw error
  }
}

/**
 * audit verify prints the integrity report as JSON (0 when the chain holds, 1 when it is
 * broken); audit query and export answer what the API's GET /v1/audit-events and its export do.
 */
async function auditCommand (args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === 'query') {
    const { query } = auditQueryOf(sub, rest, QUERY_FLAGS, AuditQuerySchema)
    const page = await withDatabase(async (database) => usageOn400(async () => createServices(database.prisma).auditQuery.list(CLI_CALLER, query as AuditQuery)))
    process.stdout.write(JSON.stringify(page, null, 2) + '\n')
    return 0
  }
  if (sub === 'export') {
    const { query, values } = auditQueryOf(sub, rest, EXPORT_FLAGS, AuditExportQuerySchema, { output: { type: 'string' } })
    await withDatabase(async (database) => {
      const lines = await usageOn400(async () => createServices(database.prisma).auditQuery.export(CLI_CALLER, query as AuditExportQuery))
      if (values.output === undefined) await pipeline(lines, process.stdout, { end: false })
      else await pipeline(lines, createWriteStream(values.output))
    })
    return 0
  }
  const { values } = parseArgs({ args: rest, options: { full: { type: 'boolean' } } })
  if (sub !== 'verify') throw new UsageError('audit takes verify [--full], query [flags] or export [flags]')
  const report = await withDatabase(async (database) =>
    createAuditIntegrity({ prisma: database.prisma, sealRepository: createSealRepository() }).check({ full: values.full === true }))
  process.stdout.write(JSON.stringify({
    ...report,
    sealedThroughSeq: report.sealedThroughSeq?.toString() ?? null,
    firstInvalidSeq: report.firstInvalidSeq?.toString() ?? null
  }, null, 2) + '\n')
  return report.ok ? 0 : 1
}

/** Operations verbs: the same services, rules and audit events as the API. */
async function operationsCommand (command: string, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { reason: { type: 'string' } } })
  const [sub, id] = command === 'freeze' || command === 'unfreeze' ? [command, undefined] : positionals
  const reason = values.reason
  const needReason = (): string => {
    if (reason === undefined) throw new UsageError(`${command} ${sub ?? ''} needs --reason`)
    return reason
  }
  const print = (value: unknown): void => { process.stdout.write(JSON.stringify(value, null, 2) + '\n') }
  // These changes are notified as the API's are: their audit events are the outbox, and the
  // running servers' relay delivers them. The command itself never touches the webhook queue, so
  // an emergency stop from here works whatever state pg-boss is in.
  await withDatabase(async (database) => { await operate(createServices(database.prisma)) })

  async function operate (services: Services): Promise<void> {
    if (command === 'freeze') return print(await services.issuanceFreeze.freeze(CLI_CALLER, needReason()))
    if (command === 'unfreeze') return print(await services.issuanceFreeze.unfreeze(CLI_CALLER))
    if (id === undefined || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new UsageError(`${command} ${sub ?? ''} needs an ID (a UUID)`)
    if (command === 'connections' && sub === 'revoke') return print(await services.connections.revoke(CLI_CALLER, id, needReason()))
    if (command === 'customers' && sub === 'suspend') return print(await services.customers.suspend(CLI_CALLER, id, needReason()))
    if (command === 'customers' && sub === 'resume') return print(await services.customers.resume(CLI_CALLER, id))
    if (command === 'customers' && sub === 'offboard') return print(await services.customers.offboard(CLI_CALLER, id, needReason()))
    throw new UsageError(command === 'connections' ? 'connections takes revoke ID --reason R' : 'customers takes suspend, resume or offboard ID')
  }
}

/**
 * onboarding template: the generic template (no default ExternalId) for VENDOR_PRINCIPAL_ARN and
 * the ONBOARDING_* settings, on stdout; warnings about the configuration go to stderr.
 */
function onboardingCommand (args: string[]): void {
  const [sub, ...rest] = args
  parseArgs({ args: rest, options: {} })
  if (sub !== 'template') throw new UsageError('onboarding takes template')
  const config = loadConfig()
  if (config.aws === undefined) throw new ConfigError('VENDOR_PRINCIPAL_ARN', 'must be set: the template names the principal customers trust')
  let template: string
  try {
    template = renderGenericTemplate(roleSpecOf(config.onboarding, config.aws))
  } catch (error) {
    if (error instanceof OnboardingInputError) throw new ConfigError('VENDOR_PRINCIPAL_ARN', error.message)
    throw error
  }
  for (const warning of config.onboarding.warnings) process.stderr.write(`deputy: warning: ${warning}\n`)
  process.stdout.write(template)
}

class UsageError extends Error {}

export async function main (argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv
  try {
    switch (command) {
      case 'serve':
        await startServer(loadConfig())
        return -1 // keep running
      case 'migrate': {
        const result = await withDatabase(async (database) => database.migrate())
        process.stdout.write(`applied ${result.applied.length} migration(s)${result.applied.map((n) => `\n  ${n}`).join('')}; ${result.alreadyApplied.length} already applied\n`)
        return 0
      }
      case 'api-clients':
        await apiClientsCommand(rest)
        return 0
      case 'audit':
        return await auditCommand(rest)
      case 'onboarding':
        onboardingCommand(rest)
        return 0
      case 'connections': case 'customers': case 'freeze': case 'unfreeze':
        await operationsCommand(command, rest)
        return 0
      case 'help': case '--help': case '-h':
        process.stdout.write(USAGE + '\n')
        return 0
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`deputy: configuration error: ${error.message}\n`)
      return 2
    }
    // parseArgs refuses an unknown flag or a flag without its value.
    if (error instanceof UsageError || (error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`deputy: ${error.message}\n\n${USAGE}\n`)
      return 2
    }
    if (error instanceof MigrationError || error instanceof AppError || error instanceof StartupError) {
      process.stderr.write(`deputy: ${error.message}\n`)
      return 1
    }
    throw error
  }
}
