// Serves the browser console (web/console, built by Vite into web/console/dist) at /console/.
// Static files only: the console has no server logic of its own and reaches deputy through the
// public /v1 API with the token its user pastes. Registered in its own encapsulated context, so
// its strict Content-Security-Policy (helmet) covers the console's files and nothing else: no
// inline script or style, nothing from another origin, no string-to-code sinks (Trusted Types).
import { existsSync } from 'node:fs'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

/** src/plugins/ and dist/plugins/ are both two levels below the package root. */
export const defaultConsoleDir = fileURLToPath(new URL('../../web/console/dist', import.meta.url))

export const CONSOLE_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  manifestSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
  requireTrustedTypesFor: ["'script'"],
  trustedTypes: ["'none'"],
  upgradeInsecureRequests: null
}

export interface ConsoleOptions {
  /** The built console; when it is missing (not built), /console answers 404 and the log says why. */
  dir?: string
}

const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, { dir = defaultConsoleDir }) => {
  if (!existsSync(`${dir}/index.html`)) {
    app.log.warn({ dir }, 'the browser console is not built (npm run build); /console is not served')
    return
  }
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP },
    // HSTS belongs to whoever terminates TLS in front of deputy, for the whole host.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginEmbedderPolicy: true
  })
  const assets = join(dir, 'assets') + sep
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/console/',
    redirect: true,
    index: ['index.html'],
    wildcard: false,
    cacheControl: false,
    setHeaders (res, path) {
      // Vite names every asset by its content hash; index.html names the current ones.
      res.header('cache-control', path.startsWith(assets) ? 'public, max-age=31536000, immutable' : 'no-cache')
    }
  })
}

export default consolePlugin
