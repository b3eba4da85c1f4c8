// The Dockerfile and docker-compose.yml cannot be run here (no Docker engine), so they are
// checked by reading: lint the Dockerfile, and hold both to what the README promises.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'

const root = new URL('..', import.meta.url).pathname

t.test('Dockerfile passes dockerfilelint and runs as a non-root user with a healthcheck', async (t) => {
  const lint = await promisify(execFile)(process.execPath, [`${root}node_modules/dockerfilelint/bin/dockerfilelint`, 'Dockerfile'], { cwd: root, env: { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0' } })
    .then(() => ({ code: 0, output: '' }), (error: { code: number, stdout: string }) => ({ code: error.code, output: error.stdout }))
  t.equal(lint.code, 0, lint.output)
  const dockerfile = await readFile(`${root}Dockerfile`, 'utf8')
  const stages = dockerfile.match(/^FROM /gm) ?? []
  t.ok(stages.length >= 2, 'multi-stage')
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  t.match(runtime, /^USER node$/m, 'the runtime stage drops root')
  t.match(runtime, /^HEALTHCHECK [\s\S]*\/readyz/m)
  t.match(runtime, /COPY .*prisma/, 'migrations ship in the image')
  t.notMatch(runtime, /npm (ci|install)(?! --omit=dev)/, 'no dev dependencies installed in the runtime stage')
})

t.test('docker-compose.yml: Postgres with a healthcheck, deputy migrating on start after it is healthy', async (t) => {
  const compose = parse(await readFile(`${root}docker-compose.yml`, 'utf8')) as {
    services: Record<string, { image?: string, build?: unknown, healthcheck?: unknown, depends_on?: Record<string, { condition: string }>, environment?: Record<string, string>, ports?: string[] }>
  }
  const { postgres, deputy } = compose.services
  t.match(postgres?.image, /^postgres:/)
  t.ok(postgres?.healthcheck)
  t.equal(deputy?.build, '.')
  t.equal(deputy?.depends_on?.postgres?.condition, 'service_healthy')
  t.match(deputy?.environment?.DATABASE_URL, /^postgresql:\/\/\w+:\w+@postgres:5432\/\w+$/)
  t.equal(deputy?.environment?.MIGRATE_ON_START, 'true')
  t.equal(deputy?.environment?.HOST, '0.0.0.0')
})
