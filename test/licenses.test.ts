// Nothing deputy ships may bind its users: no GPL-family licence among production dependencies
// (read from package-lock.json, which lists every installed package and its licence).
import { readFile } from 'node:fs/promises'
import t from 'tap'

interface LockPackage { license?: string, dev?: boolean, devOptional?: boolean, optional?: boolean, link?: boolean, resolved?: string }

const COPYLEFT = /\b(A?GPL|LGPL|SSPL|EUPL|OSL|CPAL)\b/i
const PERMISSIVE = /\b(MIT|ISC|BSD-[23]-Clause|Apache-2\.0|0BSD|BlueOak-1\.0\.0|Unlicense|CC0-1\.0|Python-2\.0|CC-BY-4\.0)\b/

t.test('production dependencies carry permissive licences', async (t) => {
  const lock = JSON.parse(await readFile(new URL('../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockPackage> }
  // A workspace (web/console) is a link in node_modules; its licence is on its own entry.
  const shipped = Object.entries(lock.packages).filter(([path, pkg]) => path !== '' && pkg.dev !== true && pkg.devOptional !== true && pkg.link !== true)
  t.ok(shipped.length > 20, `${shipped.length} production packages`)
  const offending = shipped.filter(([, pkg]) => {
    const license = pkg.license ?? 'UNKNOWN'
    // "(MIT OR GPL-3.0)" lets users choose MIT; "GPL-3.0" alone does not.
    const choosable = / OR /i.test(license) && PERMISSIVE.test(license)
    return (COPYLEFT.test(license) && !choosable) || !PERMISSIVE.test(license)
  }).map(([path, pkg]) => `${path}: ${pkg.license ?? 'UNKNOWN'}`)
  t.same(offending, [], 'every shipped package is permissively licensed')
  const own = lock.packages[''] as LockPackage
  t.equal(own.license, 'Apache-2.0')
  t.equal(lock.packages['web/console']?.license, 'Apache-2.0', 'the console, deputy\'s own')
  t.ok(shipped.some(([path]) => path.endsWith('node_modules/preact')), 'what the console bundles (Preact) is checked as shipped')
})
