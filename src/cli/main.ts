// The deputy command: serve, migrate, and API-client administration for operators with
// database access (the way a first admin token is made without DEPUTY_BOOTSTRAP_ADMIN_TOKEN).
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config.js'
import { openDatabase, type Database } from '../db/database.js'
import { MigrationError } from '../db/migrate.js'
import { AppError, StartupError } from '../lib/errors.js'
import type { Caller } from '../lib/caller.js'
import { isScope } from '../modules/api-clients/scopes.js'
import { startServer } from '../server.js'
import { createServices } from '../services.js'

const USAGE = `usage: deputy <command>

  serve                                   start the API server (the default)
  migrate                                 apply database migrations and exit
  api-clients create --name N --scopes a,b [--customer-id ID]
                                          create an API client; prints its token once
  api-clients list                        list API clients
  api-clients revoke ID                   revoke an API client

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
