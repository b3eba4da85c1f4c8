// Entry point of the deputy binary. `deputy credentials` (a credential_process, run before every
// refresh) loads only its own module, not the server.
const argv = process.argv.slice(2)
const code = argv[0] === 'credentials'
  ? await (await import('./credentials.js')).credentialsCommand(argv.slice(1), { env: process.env, stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) })
  : await (await import('./main.js')).main(argv)
if (code >= 0) process.exitCode = code
