// The issuance commit: the statement that writes credentials.issued only while the connection can
// still issue, and the service's audited fallback (commitIssuance, unusableReason).
import { strykerConfig } from './shared.mjs'

export default strykerConfig({
  target: 'issuance',
  mutate: ['src/modules/credentials/issuance.repository.ts', 'src/modules/credentials/credentials.service.ts'],
  testFiles: [
    'test/modules/credentials.test.ts',
    'test/modules/issuance-hardening.test.ts',
    'test/modules/revocation.test.ts'
  ]
})
