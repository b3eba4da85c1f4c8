// The sandbox: deputy's whole flow on a laptop, with nothing reaching AWS. It runs the STS
// emulator inside this process on a loopback port, makes the emulated vendor identity deputy
// runs as, and hands deputy's STS client the emulator's address and that identity's keys
// explicitly (never through process.env: a real AWS configuration in the environment is neither
// used nor changed). server.ts starts it only when config.sandbox is set (the embedded default,
// see loadConfig); the app then uses it instead of AWS and mounts the sandbox routes.
// Emulated accounts and roles live in the emulator's memory, for the life of the process.
import { access, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { StsEmulator } from '../../aws/sts-emulator/emulator.js'
import { StartupError } from '../../lib/errors.js'
import { startStsEmulator } from '../../aws/sts-emulator/server.js'
import type { SandboxConfig } from '../../config.js'

export interface Sandbox {
  settings: SandboxConfig
  emulator: StsEmulator
  /** How deputy's STS client reaches the emulator, as the emulated vendor identity. */
  connection: { endpoint: string, credentials: { accessKeyId: string, secretAccessKey: string } }
  /** Keeps the admin token the app created at this start, for the banner alone (never logged). */
  keepAdminToken: (token: string) => void
  /** The start-up banner; hands over the kept admin token, so it is printed at most once. */
  banner: (options: BannerOptions) => string
  close: () => Promise<void>
}

export interface BannerOptions {
  /** Where deputy listens, as a client on this machine reaches it. */
  url: string
  /** The embedded database's directory. */
  dataDir: string
  /** DEPUTY_BOOTSTRAP_ADMIN_TOKEN was given: the operator knows the token. */
  bootstrapTokenGiven: boolean
}

/** Written into a data directory the sandbox created: only such a directory runs as a sandbox. */
export const SANDBOX_MARKER = 'DEPUTY_SANDBOX'

/**
 * Makes sure the embedded database in `dataDir` is a sandbox's own: an empty or missing directory
 * becomes one (marked), one the sandbox marked earlier is reused, and any other is refused. So a
 * deployment on the embedded database that lost its AWS configuration never turns into a sandbox
 * over real data (its kits would name the emulated vendor, its drift probes would fail real
 * connections against an empty emulator).
 */
export async function claimSandboxDataDir (dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  const entries = await readdir(dataDir)
  if (entries.length === 0) {
    await writeFile(join(dataDir, SANDBOX_MARKER), 'This embedded database was created by deputy\'s sandbox (emulated AWS). Do not use it for real customers.\n')
    return
  }
  const marked = await access(join(dataDir, SANDBOX_MARKER)).then(() => true, () => false)
  if (!marked) {
    throw new StartupError(`${dataDir} holds a database the sandbox did not create; deputy will not run it with emulated AWS. Set VENDOR_PRINCIPAL_ARN (real AWS), or DEPUTY_SANDBOX=false (no AWS), or point DEPUTY_DATA_DIR at an empty directory to try the sandbox`)
  }
}

export async function startSandbox (settings: SandboxConfig): Promise<Sandbox> {
  // No admin interface: it has no authentication, and any local process could have minted
  // vendor keys or rewritten roles with it. The sandbox drives the emulator in-process.
  const running = await startStsEmulator({ host: '127.0.0.1', port: 0, admin: false })
  const credentials = running.emulator.createUser(settings.vendorPrincipalArn)
  let adminToken: string | undefined
  return {
    settings,
    emulator: running.emulator,
    connection: { endpoint: running.url, credentials },
    keepAdminToken: (token) => { adminToken = token },
    banner: (options) => {
      const token = adminToken
      adminToken = undefined
      return renderBanner({ ...options, settings, stsEndpoint: running.url, adminToken: token })
    },
    close: () => running.close()
  }
}

const RULE = '='.repeat(78)

/** The banner's text: plain lines on stdout, outside the JSON log. */
export function renderBanner (input: BannerOptions & { settings: SandboxConfig, stsEndpoint: string, adminToken: string | undefined }): string {
  const { url, settings } = input
  const access = input.adminToken !== undefined
    ? [
        ' Admin token, shown this once (deputy keeps only its SHA-256; it is in no log line).',
        ' In another terminal:',
        `   export DEPUTY=${url} DEPUTY_TOKEN=${input.adminToken}`
      ]
    : input.bootstrapTokenGiven
      ? [
          ' Admin token: the DEPUTY_BOOTSTRAP_ADMIN_TOKEN you chose. In another terminal:',
          `   export DEPUTY=${url} DEPUTY_TOKEN=<that token>`
        ]
      : [
          ' An admin client exists: its token was shown when it was created. For a new one, stop',
          ' deputy (the embedded database allows one process) and run',
          `   DEPUTY_DATA_DIR=${input.dataDir} npm run deputy -- api-clients create --name me --scopes admin`,
          ' then, with the token it prints:',
          `   export DEPUTY=${url} DEPUTY_TOKEN=<its token>`
        ]
  return [
    RULE,
    ' deputy SANDBOX: AWS is EMULATED',
    RULE,
    ' No call goes to AWS and nothing reaches a real AWS account: deputy\'s STS client talks',
    ` to the STS emulator inside this process (${input.stsEndpoint}) as the emulated vendor`,
    ` identity ${settings.vendorPrincipalArn}.`,
    ` Customer accounts are emulated too: use ${settings.customerAwsAccountId} (any 12-digit ID works). Deploy an`,
    ' onboarding kit\'s template there with POST /v1/sandbox/accounts/{awsAccountId}/stacks.',
    ` Emulated roles live in memory until deputy stops; deputy's data is in ${input.dataDir}.`,
    '',
    ...access,
    '',
    ` Or open the console, ${url}/console/, and sign in with the token.`,
    ' Then follow "Try it" in README.md. For production set DATABASE_URL and VENDOR_PRINCIPAL_ARN',
    ' (either one turns the sandbox off).',
    RULE,
    ''
  ].join('\n')
}
