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
  t.same(config.rateLimit, { max: 600, windowMs: 60_000, authFailureMax: 30, authFailureWindowMs: 60_000, redis: undefined })
  t.equal(config.rateLimit.redis, undefined, 'no REDIS_URL: the limits are counted in each process')
  t.equal(config.trustProxy, false)
})

t.test('rate limits and the auth-failure throttle are configurable', async (t) => {
  const config = loadConfig({ RATE_LIMIT_MAX: '100', RATE_LIMIT_WINDOW_MS: '1000', AUTH_FAILURE_LIMIT_MAX: '5', AUTH_FAILURE_WINDOW_MS: '300000' })
  t.same(config.rateLimit, { max: 100, windowMs: 1000, authFailureMax: 5, authFailureWindowMs: 300_000, redis: undefined })
})

t.test('REDIS_URL shares the limits through Redis; a bad value is refused without showing it (it may hold a password)', async (t) => {
  t.same(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).rateLimit.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'deputy:' })
  t.same(loadConfig({ REDIS_URL: 'rediss://:s3cret@cache.internal:6380/2', REDIS_KEY_PREFIX: 'deputy-prod:' }).rateLimit.redis, { url: 'rediss://:s3cret@cache.internal:6380/2', keyPrefix: 'deputy-prod:' })
  t.equal(loadConfig({ REDIS_URL: '' }).rateLimit.redis, undefined, 'empty is unset')
  for (const url of ['http://:s3cret@cache:6379', 'redis//:s3cret@cache', 'cache.internal:6379', 'redis://:s3cret@']) {
    try {
      loadConfig({ REDIS_URL: url })
      t.fail(`REDIS_URL=${url} accepted`)
    } catch (error) {
      t.match(error, { name: 'ConfigError', variable: 'REDIS_URL', message: /must be a redis:\/\/ or rediss:\/\/ URL/ }, url)
      t.notOk((error as Error).message.includes('s3cret'), 'the message does not repeat the password')
    }
  }
  t.throws(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1', REDIS_KEY_PREFIX: 'has space' }), { name: 'ConfigError', variable: 'REDIS_KEY_PREFIX', message: /1-64 letters/ })
  t.throws(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1', REDIS_KEY_PREFIX: 'x'.repeat(65) }), { name: 'ConfigError', variable: 'REDIS_KEY_PREFIX' }, 'longer than 64')
  t.throws(() => loadConfig({ REDIS_KEY_PREFIX: 'deputy:' }), { name: 'ConfigError', variable: 'REDIS_KEY_PREFIX', message: /REDIS_URL is not/ }, 'a prefix without REDIS_URL: the operator expects shared limits and would not get them')
})

t.test('OVERLOAD_*: load-shedding limits, defaulted, validated, 0 turns one off', async (t) => {
  t.same(loadConfig({}).overload, { maxInFlight: 512, maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0, maxRssBytes: 0, sampleIntervalMs: 500, retryAfterSeconds: 2 })
  t.same(loadConfig({
    OVERLOAD_MAX_IN_FLIGHT: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '250',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION_PERCENT: '98',
    OVERLOAD_MAX_HEAP_USED_BYTES: '1073741824',
    OVERLOAD_MAX_RSS_BYTES: '2147483648',
    OVERLOAD_SAMPLE_INTERVAL_MS: '1000',
    OVERLOAD_RETRY_AFTER_SECONDS: '10'
  }).overload, { maxInFlight: 0, maxEventLoopDelayMs: 250, maxEventLoopUtilization: 0.98, maxHeapUsedBytes: 1_073_741_824, maxRssBytes: 2_147_483_648, sampleIntervalMs: 1000, retryAfterSeconds: 10 })
  const refused: Array<[string, string, RegExp]> = [
    ['OVERLOAD_MAX_IN_FLIGHT', 'lots', /whole number/],
    ['OVERLOAD_MAX_EVENT_LOOP_UTILIZATION_PERCENT', '0.98', /whole number/],
    ['OVERLOAD_MAX_EVENT_LOOP_UTILIZATION_PERCENT', '101', /between 0 and 100/],
    ['OVERLOAD_SAMPLE_INTERVAL_MS', '5', /between 10 and 60000/],
    ['OVERLOAD_RETRY_AFTER_SECONDS', '0', /between 1 and 3600/]
  ]
  for (const [variable, value, message] of refused) {
    t.throws(() => loadConfig({ [variable]: value }), { name: 'ConfigError', variable, message }, `${variable}=${value}`)
  }
})

t.test('DATABASE_DIRECT_URL: PostgreSQL itself for sessions; defaults to DATABASE_URL', async (t) => {
  const pooled = 'postgresql://deputy@pgbouncer:6432/deputy'
  const direct = 'postgresql://deputy@postgres:5432/deputy'
  t.match(loadConfig({ DATABASE_URL: pooled }).database, { kind: 'postgres', url: pooled, directUrl: pooled })
  t.match(loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: direct }).database, { kind: 'postgres', url: pooled, directUrl: direct })
  t.throws(() => loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: 'mysql://x@y/z' }), { variable: 'DATABASE_DIRECT_URL', message: /postgresql:\/\// })
  t.throws(() => loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: 'not a url' }), { variable: 'DATABASE_DIRECT_URL', message: /not a URL/ })
})

t.test('TRUST_PROXY: a hop count or proxy addresses; true (every hop) is refused', async (t) => {
  for (const off of ['', 'false', '0']) t.equal(loadConfig({ TRUST_PROXY: off }).trustProxy, false, `"${off}" is no proxy`)
  t.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1)
  t.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8,loopback' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', 'loopback'])
  const refused: Array<[string, RegExp]> = [
    ['true', /true would trust every hop.*leftmost X-Forwarded-For.*TRUST_PROXY=1.*TRUST_PROXY=10\.0\.0\.0\/8/],
    ['0.0.0.0/0', /would trust every hop/],
    ['::/0', /would trust every hop/],
    ['11', /between 1 and 10/],
    ['yes', /hop count .* or a comma-separated list/],
    ['10.0.0.0/33', /prefix longer/],
    ['10.0.0.0/8,', /got ""/],
    ['10.0.0.0/8/1', /comma-separated list/],
    ['10.0.0.0/x', /comma-separated list/]
  ]
  for (const [value, message] of refused) {
    t.throws(() => loadConfig({ TRUST_PROXY: value }), { name: 'ConfigError', variable: 'TRUST_PROXY', message }, `TRUST_PROXY=${value}`)
  }
})

t.test('DATABASE_URL selects Postgres; MIGRATE_ON_START is opt-in there', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgresql://u@db:5432/deputy', PORT: '8080', HOST: '0.0.0.0', LOG_LEVEL: 'warn', MIGRATE_ON_START: 'true', DATABASE_POOL_SIZE: '5' })
  t.same(config.database, { kind: 'postgres', url: 'postgresql://u@db:5432/deputy', directUrl: 'postgresql://u@db:5432/deputy', poolSize: 5 })
  t.equal(config.migrateOnStart, true)
  t.equal(config.port, 8080)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.logLevel, 'warn')
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
    [{ RATE_LIMIT_WINDOW_MS: '10' }, 'RATE_LIMIT_WINDOW_MS', /between/],
    [{ AUTH_FAILURE_LIMIT_MAX: '0' }, 'AUTH_FAILURE_LIMIT_MAX', /between/],
    [{ AUTH_FAILURE_LIMIT_MAX: 'many' }, 'AUTH_FAILURE_LIMIT_MAX', /whole number/],
    [{ AUTH_FAILURE_WINDOW_MS: '999' }, 'AUTH_FAILURE_WINDOW_MS', /between/],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY', /every hop/]
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
    sourceIdentity: true,
    sessionTags: [],
    credentialReuse: false,
    controlRoleArn: undefined,
    probeCooldownMs: 60_000,
    probeBudgetPerCustomerPerHour: 30
  })
  const custom = loadConfig({ VENDOR_PRINCIPAL_ARN: 'arn:aws-us-gov:iam::111111111111:user/deputy', AWS_REGION: 'us-gov-west-1', CREDENTIALS_MAX_DURATION_SECONDS: '1200', SOURCE_IDENTITY_ENABLED: 'false' }).aws
  t.match(custom, { region: 'us-gov-west-1', credentialsMaxDurationSeconds: 1200, sourceIdentity: false })
  t.equal(loadConfig({ VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/deputy', CREDENTIAL_REUSE: 'on' }).aws?.credentialReuse, true)
  t.throws(() => loadConfig({ VENDOR_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/deputy', CREDENTIAL_REUSE: 'yes' }), { name: 'ConfigError', variable: 'CREDENTIAL_REUSE', message: /on, off/ })
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
