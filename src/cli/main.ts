// The deputy command: serve, migrate, and API-client administration for operators with
// database access (the way a first admin token is made without DEPUTY_BOOTSTRAP_ADMIN_TOKEN).
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config.js'
import { openDatabase, type Database } from '../db/database.js'
import { MigrationError } from '../db/migrate.js'
import { AppError, StartupError } from '../lib/errors.js'
import type { Caller } from '../lib/caller.js'
import { isScope } from '../modules/api-clients/scopes.js'
import { createAuditIntegrity } from '../modules/audit/integrity.js'
import { createSealRepository } from '../modules/audit/seal.repository.js'
import { startServer } from '../server.js'
import { createServices } from '../services.js'

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

/** Prints the integrity report as JSON; 0 when the chain holds, 1 when it is broken. */
async function auditCommand (args: string[]): Promise<number> {
  const [sub, ...rest] = args
  const { values } = parseArgs({ args: rest, options: { full: { type: 'boolean' } } })
  if (sub !== 'verify') throw new UsageError('audit takes verify [--full]')
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
  await withDatabase(async (database) => {
    const services = createServices(database.prisma)
    if (command === 'freeze') return print(await services.issuanceFreeze.freeze(CLI_CALLER, needReason()))
    if (command === 'unfreeze') return print(await services.issuanceFreeze.unfreeze(CLI_CALLER))
    if (id === undefined || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new UsageError(`${command} ${sub ?? ''} needs an ID (a UUID)`)
    if (command === 'connections' && sub === 'revoke') return print(await services.connections.revoke(CLI_CALLER, id, needReason()))
    if (command === 'customers' && sub === 'suspend') return print(await services.customers.suspend(CLI_CALLER, id, needReason()))
    if (command === 'customers' && sub === 'resume') return print(await services.customers.resume(CLI_CALLER, id))
    if (command === 'customers' && sub === 'offboard') return print(await services.customers.offboard(CLI_CALLER, id, needReason()))
    throw new UsageError(command === 'connections' ? 'connections takes revoke ID --reason R' : 'customers takes suspend, resume or offboard ID')
  })
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
    if (error instanceof UsageError) {
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
