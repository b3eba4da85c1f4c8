// The console plugin without a build: deputy still starts, /console/ is 404, and the log says
// why (the console itself, built, is test/console/console.test.ts).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import pino from 'pino'
import t from 'tap'
import consolePlugin from '../../src/plugins/console.js'

t.test('a console that is not built is not served, and the log says so', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'deputy-console-'))
  t.teardown(() => rm(empty, { recursive: true, force: true }))
  const lines: string[] = []
  const app = Fastify({ loggerInstance: pino(new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done() } })) })
  await app.register(consolePlugin, { dir: empty })
  await app.ready()
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/console/' })).statusCode, 404)
  t.match(lines.join(''), /the browser console is not built \(npm run build\); \/console is not served/)
})
