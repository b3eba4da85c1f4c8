// The auth plugin: bearer tokens, scopes and the tenant binding every route relies on.
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'auth',
  mutate: ['src/plugins/auth.ts'],
  testFiles: [
    'test/authorization-matrix.test.ts',
    'test/plugins/auth-throttle.test.ts',
    'test/modules/api-clients.test.ts',
    'test/modules/token-cache.test.ts'
  ]
})
