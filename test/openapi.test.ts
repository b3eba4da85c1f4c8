// openapi.yaml is the truth of the API: it must equal what the routes produce, list exactly the
// routes the server serves, and pass Redocly's lint.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { buildAppForSpec, buildOpenApiYaml } from '../src/openapi.js'

const committedPath = new URL('../openapi.yaml', import.meta.url)

t.test('the committed openapi.yaml is what the route schemas produce', async (t) => {
  const committed = await readFile(committedPath, 'utf8')
  t.equal(committed, await buildOpenApiYaml(), 'run `npm run openapi` and commit openapi.yaml')
})

t.test('every served route is documented and every documented route is served', async (t) => {
  const served = new Set<string>()
  const app = await buildAppForSpec((route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true
    if (hidden || route.url.startsWith('/docs')) return
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') served.add(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`)
    }
  })
  t.teardown(() => app.close())
  const documented = parse(await readFile(committedPath, 'utf8')) as { paths: Record<string, Record<string, unknown>> }
  const documentedOps = Object.entries(documented.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  t.same([...served].sort(), documentedOps.sort())
  t.ok(served.size >= 12, `${served.size} operations`)
})

t.test('openapi.yaml passes redocly lint', async (t) => {
  const redocly = new URL('../node_modules/@redocly/cli/bin/cli.js', import.meta.url).pathname
  const result = await promisify(execFile)(process.execPath, [redocly, 'lint', 'openapi.yaml', '--format', 'stylish'], {
    cwd: new URL('..', import.meta.url).pathname,
    // A plain environment: tap's coverage hooks must not follow into the linter.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', _TAPJS_PROCESSINFO_COVERAGE_: '0', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  })
    .then(({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }), (error: { code: number, stdout: string, stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }))
  t.equal(result.code, 0, result.output)
  t.notMatch(result.output, /You have \d+ warning/, 'no lint warnings either')
})
