// Starting deputy for a phase: the environment every bench deputy shares, and a start that
// waits for /readyz.
import { join } from 'node:path'
import type { BenchConfig } from './config.js'
import { freePort, startChild, stopChild, waitReady, type Child } from './processes.js'

export interface DeputyAws {
  vendorArn: string
  stsUrl: string
  keys: { accessKeyId: string, secretAccessKey: string }
}

/**
 * deputy's environment on database `databaseUrl`: the bench's pool size and log level, the admin
 * token it bootstraps, rate limits out of the way; AWS through the emulator when given.
 */
export function deputyEnv (base: Record<string, string>, config: BenchConfig, databaseUrl: string, adminToken: string, aws?: DeputyAws): Record<string, string> {
  return {
    ...base,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(config.poolSize),
    LOG_LEVEL: config.deputyLogLevel,
    DEPUTY_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    RATE_LIMIT_MAX: '1000000',
    ...(aws === undefined
      ? {}
      : {
          VENDOR_PRINCIPAL_ARN: aws.vendorArn,
          AWS_ENDPOINT_URL_STS: aws.stsUrl,
          AWS_ENDPOINT_URL_IAM: aws.stsUrl,
          AWS_ACCESS_KEY_ID: aws.keys.accessKeyId,
          AWS_SECRET_ACCESS_KEY: aws.keys.secretAccessKey,
          AWS_REGION: 'us-east-1'
        })
  }
}

export interface RunningDeputy { child: Child, url: string }

/** `node bin/deputy.js serve` on a free port, resolved once /readyz answers 200. */
export async function startDeputy (options: { root: string, logDir: string, name: string, env: Record<string, string> }): Promise<RunningDeputy> {
  const port = await freePort()
  const child = startChild(options.name, ['bin/deputy.js', 'serve'], { ...options.env, PORT: String(port), HOST: '127.0.0.1' }, join(options.logDir, `${options.name}.log`), options.root)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(child, `${url}/readyz`, performance.now())
  } catch (error) {
    await stopChild(child)
    throw error
  }
  return { child, url }
}
