// STS and IAM query-protocol responses: the XML bodies AWS sends for results and errors.
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/'
export const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/'

const escapeXml = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')

type XmlTree = { [name: string]: string | number | XmlTree | undefined }

function render (tree: XmlTree): string {
  return Object.entries(tree)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `<${name}>${typeof value === 'object' ? render(value) : escapeXml(String(value))}</${name}>`)
    .join('')
}

export function resultXml (action: string, result: XmlTree, requestId: string, ns = STS_NS): string {
  return `<${action}Response xmlns="${ns}"><${action}Result>${render(result)}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
}

export function errorXml (type: 'Sender' | 'Receiver', code: string, message: string, requestId: string, ns = STS_NS): string {
  return `<ErrorResponse xmlns="${ns}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
}
