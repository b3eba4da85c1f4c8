// The STS gateway's retry quota: in a throttling storm deputy stops multiplying its calls once
// the quota is spent (one attempt per call), and successes earn retries back. Against the STS
// emulator through the real SDK. (Under load, with numbers: test/reliability/sts-faults.reliability.ts.)
import t from 'tap'
import { startStsEmulator } from '../../src/aws/sts-emulator/server.js'
import { createStsGateway, RETRY_QUOTA } from '../../src/aws/sts-gateway.js'
import { roleArn } from '../helpers/aws.js'

const VENDOR = 'arn:aws:iam::111111111111:user/deputy'
const ROLE = roleArn('222222222222')

t.test('a storm spends the retry quota, then each call makes one attempt; successes earn retries back', async (t) => {
  const running = await startStsEmulator()
  t.teardown(() => running.close())
  const credentials = running.emulator.createUser(VENDOR)
  running.emulator.putRole({ arn: ROLE, trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: VENDOR }, Action: 'sts:AssumeRole' }] } })
  const sts = createStsGateway({ region: 'us-east-1', timeoutMs: 2000, endpoint: running.url, credentials })
  t.teardown(() => sts.destroy())
  const assume = (budgetMs: number) => sts.assumeRole({ roleArn: ROLE, sessionName: 'quota-test', durationSeconds: 900 }, { retryBudgetMs: budgetMs })

  t.equal(sts.retryTokens(), RETRY_QUOTA.capacity)
  running.emulator.injectFault({ kind: 'throttle', action: 'AssumeRole', durationMs: 600_000 })
  const storm = await Promise.all(Array.from({ length: 60 }, () => assume(3000)))
  const attempts = storm.reduce((sum, o) => sum + o.attempts, 0)
  t.ok(storm.every((o) => !o.ok && o.failure.kind === 'throttled'), 'every call is refused')
  t.ok(sts.retryTokens() < RETRY_QUOTA.retryCost, `the quota is spent (${sts.retryTokens()} tokens left)`)
  t.ok(attempts <= 60 + RETRY_QUOTA.capacity / RETRY_QUOTA.retryCost, `no more retries than the quota allows: ${attempts} attempts for 60 calls`)

  running.emulator.clearCalls()
  const late = await Promise.all(Array.from({ length: 20 }, () => assume(3000)))
  t.same(late.map((o) => o.attempts), Array(20).fill(1), 'once it is spent, one attempt per call')
  t.equal(running.emulator.calls().length, 20, 'and one call to STS each')

  running.emulator.clearFaults()
  for (let i = 0; i < 10; i++) t.ok((await assume(0)).ok)
  t.ok(sts.retryTokens() >= 10 * RETRY_QUOTA.successRefund, `successes earn retries back (${sts.retryTokens()} tokens)`)
  running.emulator.injectFault({ kind: 'throttle', action: 'AssumeRole', count: 1 })
  const retried = await assume(3000)
  t.ok(retried.ok && retried.attempts === 2, 'a single throttle is retried again')
})
