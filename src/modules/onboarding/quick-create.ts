// The CloudFormation console's quick-create link: the generic template the vendor published in S3,
// a stack name and the ExternalId parameter, in the URL's fragment. It carries nothing secret (an
// external ID is not a secret; a presigned template URL, which carries a credential, is refused at
// start) and every value is percent-encoded. Pure: no I/O.
import { EXTERNAL_ID_PARAMETER, PREVIOUS_EXTERNAL_ID_PARAMETER } from './cloudformation.js'
import { checkExternalIds } from './trust-policy.js'

const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d'
const BUCKET = '[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]'
const VIRTUAL_HOSTED = new RegExp(`^(${BUCKET})\\.s3\\.(${REGION})\\.amazonaws\\.com(?:\\.cn)?$`)
const PATH_STYLE = new RegExp(`^s3\\.(${REGION})\\.amazonaws\\.com(?:\\.cn)?$`)

export interface S3TemplateLocation { bucket: string, region: string, key: string }

export const TEMPLATE_URL_FORMS = 'https://<bucket>.s3.<region>.amazonaws.com/<key> or https://s3.<region>.amazonaws.com/<bucket>/<key>'

/**
 * Where a template URL points in S3, or a reason to refuse it: CloudFormation's quick-create
 * reads templates from S3 only, and a presigned URL would put a credential (that also expires)
 * into every link handed to customers.
 */
export function parseS3TemplateUrl (raw: string): S3TemplateLocation | string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return `is not a URL; expected ${TEMPLATE_URL_FORMS}`
  }
  if (url.protocol !== 'https:') return `must be an https:// URL (${TEMPLATE_URL_FORMS})`
  if (url.username !== '' || url.password !== '') return 'must not carry a user or password'
  if (url.hash !== '') return 'must not have a #fragment'
  if (raw.length > 1024) return 'is longer than the 1024 characters CloudFormation accepts'
  const query = [...url.searchParams.keys()]
  if (query.some((name) => /^x-amz-/i.test(name))) return 'is a presigned URL: it carries a credential and expires; publish the template readable by everyone instead'
  if (query.some((name) => name !== 'versionId')) return 'may carry no query parameter but versionId'
  const hosted = VIRTUAL_HOSTED.exec(url.hostname)
  const pathStyle = PATH_STYLE.exec(url.hostname)
  let path: string
  try {
    path = decodeURIComponent(url.pathname).replace(/^\//, '')
  } catch {
    return 'has a malformed path'
  }
  if (hosted !== null) {
    const [, bucket = '', region = ''] = hosted
    return path === '' ? 'names a bucket but no template file' : { bucket, region, key: path }
  }
  if (pathStyle !== null) {
    const [, region = ''] = pathStyle
    const slash = path.indexOf('/')
    const bucket = slash === -1 ? path : path.slice(0, slash)
    const key = slash === -1 ? '' : path.slice(slash + 1)
    if (!new RegExp(`^${BUCKET}$`).test(bucket)) return 'does not name an S3 bucket'
    return key === '' ? 'names a bucket but no template file' : { bucket, region, key }
  }
  return `must point at S3 (${TEMPLATE_URL_FORMS}): quick-create links read templates from S3 only`
}

const CONSOLE_HOSTS: Record<string, string> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com'
}

/** A CloudFormation stack name (letters, digits, hyphens; a letter first; 128 at most) for the role. */
export function stackNameFor (roleName: string): string {
  const name = roleName.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^[^A-Za-z]+/, '')
  return (name === '' ? 'deputy-access' : name).slice(0, 128)
}

export interface QuickCreateInput {
  templateUrl: string
  /** The console region the stack is created in. */
  region: string
  /** The partition of the customer's account (that of the vendor principal). */
  partition: string
  stackName: string
  externalIds: readonly string[]
}

/**
 * https://console.aws.amazon.com/cloudformation/home?region=R#/stacks/quickcreate?templateURL=…
 * &stackName=…&param_ExternalId=… (and param_PreviousExternalId during a rotation): the console
 * reads the parameters from the fragment, each percent-encoded with encodeURIComponent.
 */
export function quickCreateUrl (input: QuickCreateInput): string {
  const { externalIds } = input
  checkExternalIds(externalIds)
  const host = CONSOLE_HOSTS[input.partition]
  if (host === undefined) throw new TypeError(`no console for partition ${input.partition}`)
  const [current, previous] = externalIds
  const params: Array<[string, string]> = [
    ['templateURL', input.templateUrl],
    ['stackName', input.stackName],
    [`param_${EXTERNAL_ID_PARAMETER}`, current],
    ...(previous === undefined ? [] : [[`param_${PREVIOUS_EXTERNAL_ID_PARAMETER}`, previous] as [string, string]])
  ]
  const fragment = params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('&')
  return `https://${host}/cloudformation/home?region=${encodeURIComponent(input.region)}#/stacks/quickcreate?${fragment}`
}

/** The parts of a quick-create link, decoded (the inverse of quickCreateUrl). */
export function parseQuickCreateUrl (link: string): { host: string, region: string | null, route: string, params: Record<string, string> } {
  const url = new URL(link)
  const fragment = url.hash.replace(/^#/, '')
  const question = fragment.indexOf('?')
  const route = question === -1 ? fragment : fragment.slice(0, question)
  const params = Object.fromEntries(new URLSearchParams(question === -1 ? '' : fragment.slice(question + 1)))
  return { host: url.host, region: url.searchParams.get('region'), route, params }
}
