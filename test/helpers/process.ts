// Runs the real deputy command in a child process (through tsx, so no build is needed).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ENTRY = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))

export interface Deputy {
  child: ChildProcessWithoutNullStreams
  output: () => string
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export function spawnDeputy (args: string[], env: Record<string, string>): Deputy {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: ROOT,
    // Coverage is not collected in children: tsx's source maps would skew the report.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env }
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exit = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
  })
  return { child, output: () => output, exit }
}

/** Resolves with the listening URL once the server logs that it is ready. */
export async function waitForReady (deputy: Deputy, timeoutMs = 60_000): Promise<string> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(deputy.output())
    if (match?.[1] !== undefined && deputy.output().includes('deputy is ready')) return match[1]
    if (deputy.child.exitCode !== null) throw new Error(`deputy exited early:\n${deputy.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`deputy did not become ready:\n${deputy.output()}`)
}
