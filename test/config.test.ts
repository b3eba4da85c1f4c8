// Configuration is validated at start, and a bad variable is named in the error.
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

t.test('defaults: embedded PGlite in ./.data, port 3000, migrations on start', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.match(config.database, { kind: 'pglite' })
  t.match((config.database as { dataDir: string }).dataDir, /\.data$/)
  t.equal(config.migrateOnStart, true)
  t.equal(config.bootstrapAdminToken, undefined)
  t.same(config.rateLimit, { max: 600, windowMs: 60_000 })
})

t.test('DATABASE_URL selects Postgres; MIGRATE_ON_START is opt-in there', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgresql://u@db:5432/deputy', PORT: '8080', HOST: '0.0.0.0', LOG_LEVEL: 'warn', MIGRATE_ON_START: 'true', DATABASE_POOL_SIZE: '5', TRUST_PROXY: '1' })
  t.same(config.database, { kind: 'postgres', url: 'postgresql://u@db:5432/deputy', poolSize: 5 })
  t.equal(config.migrateOnStart, true)
  t.equal(config.port, 8080)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.logLevel, 'warn')
  t.equal(config.trustProxy, true)
  t.equal(loadConfig({ DATABASE_URL: 'postgres://u@db/deputy' }).migrateOnStart, false)
})

t.test('bad values name the variable', async (t) => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ PORT: 'eighty' }, 'PORT', /whole number/],
    [{ PORT: '70000' }, 'PORT', /between 0 and 65535/],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', /not a URL/],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL', /postgresql:\/\//],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of/],
    [{ MIGRATE_ON_START: 'yes', DATABASE_URL: 'postgresql://x/y' }, 'MIGRATE_ON_START', /true or false/],
    [{ DEPUTY_BOOTSTRAP_ADMIN_TOKEN: 'short' }, 'DEPUTY_BOOTSTRAP_ADMIN_TOKEN', /at least 32/],
    [{ RATE_LIMIT_MAX: '0' }, 'RATE_LIMIT_MAX', /between/],
    [{ RATE_LIMIT_WINDOW_MS: '10' }, 'RATE_LIMIT_WINDOW_MS', /between/]
  ]
  for (const [env, variable, message] of cases) {
    const error = (() => {
      try {
        loadConfig(env)
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    t.ok(error instanceof ConfigError, `${variable}: a ConfigError`)
    t.equal((error as ConfigError).variable, variable)
    t.match((error as ConfigError).message, message)
  }
})

t.test('AWS: off without VENDOR_PRINCIPAL_ARN; validated and defaulted with it', async (t) => {
  t.equal(loadConfig({}).aws, undefined)
  t.same(loadConfig({ VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/deputy' }).aws, {
    vendorPrincipalArn: 'arn:aws:iam::111111111111:role/deputy',
    region: 'us-east-1',
    stsTimeoutMs: 5000,
    stsRetryBudgetMs: 3000,
    probePropagationWindowMs: 60_000,
    credentialsMaxDurationSeconds: 3600,
    sourceIdentity: true
  })
  const custom = loadConfig({ VENDOR_PRINCIPAL_ARN: 'arn:aws-us-gov:iam::111111111111:user/deputy', AWS_REGION: 'us-gov-west-1', CREDENTIALS_MAX_DURATION_SECONDS: '1200', SOURCE_IDENTITY_ENABLED: 'false' }).aws
  t.match(custom, { region: 'us-gov-west-1', credentialsMaxDurationSeconds: 1200, sourceIdentity: false })
  const bad: Array<[Record<string, string>, string]> = [
    [{ VENDOR_PRINCIPAL_ARN: 'deputy' }, 'VENDOR_PRINCIPAL_ARN'],
    [{ VENDOR_PRINCIPAL_ARN: 'arn:aws:s3:::bucket' }, 'VENDOR_PRINCIPAL_ARN'],
    [{ VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/d', AWS_REGION: 'mars' }, 'AWS_REGION'],
    [{ VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/d', CREDENTIALS_MAX_DURATION_SECONDS: '7200' }, 'CREDENTIALS_MAX_DURATION_SECONDS']
  ]
  for (const [env, variable] of bad) {
    try {
      loadConfig(env)
      t.fail(`${variable} accepted`)
    } catch (error) {
      t.equal((error as ConfigError).variable, variable)
    }
  }
})
