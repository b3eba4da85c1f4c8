// Runs the STS emulator in its own process for benchmarks; prints its URL on stdout.
import { startStsEmulator } from '../../src/aws/sts-emulator/server.js'

const running = await startStsEmulator({ port: Number(process.env.PORT ?? 0) })
process.stdout.write(`${running.url}\n`)
process.on('SIGTERM', () => { running.close().then(() => process.exit(0), () => process.exit(1)) })
