// ARN parsing and principal matching, which decide what deputy accepts as a role and who it is.
import t from 'tap'
import { isSamePrincipal, parseRoleArn } from '../../src/aws/arn.js'

t.test('role ARNs', async (t) => {
  t.match(parseRoleArn('arn:aws:iam::123456789012:role/DeputyAccess'), { partition: 'aws', accountId: '123456789012', path: '/', name: 'DeputyAccess' })
  t.match(parseRoleArn('arn:aws-cn:iam::123456789012:role/team/ops/Deputy+Access=1,a.b@c-d'), { partition: 'aws-cn', path: '/team/ops/', name: 'Deputy+Access=1,a.b@c-d' })
  t.match(parseRoleArn('arn:aws-us-gov:iam::123456789012:role/x'), { partition: 'aws-us-gov' })
  for (const bad of ['arn:aws:iam::12345678901:role/x', 'arn:aws:iam::123456789012:user/x', 'arn:aws:iam::123456789012:role/', 'arn:aws-eu:iam::123456789012:role/x', `arn:aws:iam::123456789012:role/${'x'.repeat(65)}`, 'arn:aws:iam::123456789012:role/has space']) {
    t.equal(parseRoleArn(bad), undefined, bad)
  }
})

t.test('the configured principal and what GetCallerIdentity says', async (t) => {
  t.ok(isSamePrincipal('arn:aws:iam::111111111111:user/deputy', 'arn:aws:iam::111111111111:user/deputy'))
  t.ok(isSamePrincipal('arn:aws:iam::111111111111:role/Deputy', 'arn:aws:sts::111111111111:assumed-role/Deputy/i-0abc'), 'a session of the role')
  t.ok(isSamePrincipal('arn:aws:iam::111111111111:role/service/Deputy', 'arn:aws:sts::111111111111:assumed-role/Deputy/task'), 'role paths are dropped in session ARNs')
  t.notOk(isSamePrincipal('arn:aws:iam::111111111111:role/Deputy', 'arn:aws:sts::222222222222:assumed-role/Deputy/x'), 'another account')
  t.notOk(isSamePrincipal('arn:aws:iam::111111111111:role/Deputy', 'arn:aws:sts::111111111111:assumed-role/Other/x'))
  t.notOk(isSamePrincipal('arn:aws:iam::111111111111:user/deputy', 'arn:aws:iam::111111111111:user/deputy2'))
  t.notOk(isSamePrincipal('arn:aws:iam::111111111111:user/Deputy', 'arn:aws:sts::111111111111:assumed-role/Deputy/x'), 'a user is not a role')
})
