// The AWS SDK for JavaScript v3 as a vendor service runs it: the default provider chain
// (@aws-sdk/credential-providers' fromNodeProviderChain), nothing but the environment telling it
// where credentials come from. Scenarios on stdin as JSON, {"scenarios": [{env, endpoint,
// calls}]}; one result list per scenario on stdout. The SDK's debug log is kept with an error.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { fromNodeProviderChain } from '@aws-sdk/credential-providers'

let input = ''
for await (const chunk of process.stdin) input += chunk
const base = { ...process.env }
const results = []
for (const scenario of JSON.parse(input).scenarios) {
  for (const key of Object.keys(process.env)) delete process.env[key]
  Object.assign(process.env, base, scenario.env)
  const log = []
  const logger = { debug: (...a) => log.push(a.join(' ')), info: () => {}, warn: (...a) => log.push(a.join(' ')), error: (...a) => log.push(a.join(' ')) }
  const client = new STSClient({ region: 'us-east-1', endpoint: scenario.endpoint, credentials: fromNodeProviderChain({ logger }) })
  const outcome = []
  try {
    for (let i = 0; i < scenario.calls; i++) {
      outcome.push({ arn: (await client.send(new GetCallerIdentityCommand({}))).Arn })
      // A refresh the SDK started in the background finishes before the next call.
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } catch (error) {
    outcome.push({ error: `${error.name}: ${error.message}`, log: log.join('\n') })
  }
  client.destroy()
  results.push(outcome)
}
process.stdout.write(JSON.stringify(results) + '\n')
