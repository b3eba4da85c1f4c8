// Builds the console (web/console, as `npm run build` does) when its sources are newer than the
// build, so the browser tests always drive the current source. Several test files drive the
// console and tap runs files in parallel: the build happens under a lock (a directory, which
// mkdir creates atomically), and a file that finds the build fresh does not rebuild it (a rebuild
// empties dist/ under a test that is serving it).
import { execFile } from 'node:child_process'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { defaultConsoleDir } from '../../src/plugins/console.js'

const consoleRoot = fileURLToPath(new URL('../../web/console/', import.meta.url))
const vite = fileURLToPath(new URL('../../node_modules/vite/bin/vite.js', import.meta.url))
const lock = join(consoleRoot, '.build-lock')
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 120_000

async function newest (path: string): Promise<number> {
  const info = await stat(path)
  if (!info.isDirectory()) return info.mtimeMs
  let latest = info.mtimeMs
  for (const name of await readdir(path)) latest = Math.max(latest, await newest(join(path, name)))
  return latest
}

async function fresh (): Promise<boolean> {
  const built = await stat(join(defaultConsoleDir, 'index.html')).then((s) => s.mtimeMs, () => 0)
  const sources = await Promise.all(['src', 'public', 'index.html', 'vite.config.ts', 'package.json'].map(async (name) => await newest(join(consoleRoot, name))))
  return built > Math.max(...sources)
}

async function acquire (): Promise<void> {
  for (;;) {
    try {
      await mkdir(lock)
      return
    } catch {
      const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()))
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true })
      await sleep(200)
    }
  }
}

export async function ensureConsoleBuilt (): Promise<void> {
  await acquire()
  try {
    if (!await fresh()) await promisify(execFile)(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: consoleRoot })
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}
