// A reader for the part of HCL the onboarding kit writes (blocks, attributes, objects, tuples,
// quoted strings, numbers, booleans, references and jsonencode()), so tests can check what a
// generated Terraform file means without Terraform. Anything else is an error, never a guess;
// an interpolation (`${`) in a string is an error too, since the kit must escape every one.

export interface HclBlock { type: string, labels: string[], attributes: Record<string, unknown> }
/** A traversal such as aws_iam_role.deputy.arn. */
export interface HclReference { ref: string }

class Reader {
  private at = 0
  constructor (private readonly text: string) {}

  fail (message: string): never {
    const line = this.text.slice(0, this.at).split('\n').length
    throw new Error(`HCL line ${line}: ${message} (near ${JSON.stringify(this.text.slice(this.at, this.at + 30))})`)
  }

  /** Skips spaces and comments; newlines too unless `newlines` is false. */
  skip (newlines = true): void {
    for (;;) {
      const rest = this.text.slice(this.at)
      const match = (newlines ? /^(\s+|#[^\n]*|\/\/[^\n]*)/ : /^([ \t]+|#[^\n]*|\/\/[^\n]*)/).exec(rest)
      if (match === null || match[0] === '') return
      this.at += match[0].length
    }
  }

  peek (): string { return this.text[this.at] ?? '' }
  done (): boolean { this.skip(); return this.at >= this.text.length }

  expect (token: string): void {
    this.skip()
    if (!this.text.startsWith(token, this.at)) this.fail(`expected ${token}`)
    this.at += token.length
  }

  identifier (): string | undefined {
    this.skip()
    const match = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.text.slice(this.at))
    if (match === null) return undefined
    this.at += match[0].length
    return match[0]
  }

  string (): string {
    this.expect('"')
    let out = ''
    for (;;) {
      const ch = this.text[this.at++]
      if (ch === undefined || ch === '\n') this.fail('unterminated string')
      if (ch === '"') return out
      if (ch === '\\') {
        const esc = this.text[this.at++]
        const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' }
        if (esc !== undefined && simple[esc] !== undefined) out += simple[esc]
        else if (esc === 'u') { out += String.fromCharCode(parseInt(this.text.slice(this.at, this.at + 4), 16)); this.at += 4 } else this.fail(`unknown escape \\${esc ?? ''}`)
      } else if ((ch === '$' || ch === '%') && this.text[this.at] === ch && this.text[this.at + 1] === '{') {
        out += `${ch}{`
        this.at += 2
      } else if ((ch === '$' || ch === '%') && this.text[this.at] === '{') {
        this.fail(`a template sequence ${ch}{ in a string`)
      } else {
        out += ch
      }
    }
  }

  value (): unknown {
    this.skip()
    const ch = this.peek()
    if (ch === '"') return this.string()
    if (ch === '{') return this.object()
    if (ch === '[') return this.tuple()
    const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.at))
    if (number !== null) { this.at += number[0].length; return Number(number[0]) }
    const name = this.identifier()
    if (name === undefined) return this.fail('expected a value')
    if (name === 'true' || name === 'false') return name === 'true'
    if (name === 'null') return null
    if (this.peek() === '(') {
      this.expect('(')
      const argument = this.value()
      this.expect(')')
      if (name !== 'jsonencode') this.fail(`function ${name} is not supported`)
      return JSON.stringify(argument)
    }
    let ref = name
    while (this.peek() === '.') {
      this.at++
      ref += `.${this.identifier() ?? this.fail('expected an attribute name')}`
    }
    return { ref } satisfies HclReference
  }

  tuple (): unknown[] {
    this.expect('[')
    const items: unknown[] = []
    for (;;) {
      this.skip()
      if (this.peek() === ']') { this.at++; return items }
      items.push(this.value())
      this.skip()
      if (this.peek() === ',') this.at++
      else if (this.peek() !== ']') this.fail('expected , or ]')
    }
  }

  object (): Record<string, unknown> {
    this.expect('{')
    const entries: Record<string, unknown> = {}
    for (;;) {
      this.skip()
      if (this.peek() === '}') { this.at++; return entries }
      const key = this.peek() === '"' ? this.string() : this.identifier() ?? this.fail('expected a key')
      if (Object.hasOwn(entries, key)) this.fail(`key ${key} twice`)
      this.expect('=')
      entries[key] = this.value()
      this.skip(false)
      if (this.peek() === ',') this.at++
      else if (this.peek() !== '\n' && this.peek() !== '}') this.fail('expected a newline, , or }')
    }
  }

  /** A file (or a block's) body: attributes and blocks until `}` or the end. */
  body (nested: boolean): { attributes: Record<string, unknown>, blocks: HclBlock[] } {
    const attributes: Record<string, unknown> = {}
    const blocks: HclBlock[] = []
    for (;;) {
      this.skip()
      if (nested && this.peek() === '}') { this.at++; return { attributes, blocks } }
      if (!nested && this.at >= this.text.length) return { attributes, blocks }
      const name = this.identifier() ?? this.fail('expected an attribute or a block')
      this.skip(false)
      if (this.peek() === '=') {
        this.at++
        if (Object.hasOwn(attributes, name)) this.fail(`attribute ${name} twice`)
        attributes[name] = this.value()
        this.skip(false)
        if (this.peek() !== '\n' && !(nested && this.peek() === '}') && this.at < this.text.length) this.fail('expected a newline after an attribute')
        continue
      }
      const labels: string[] = []
      while (this.peek() === '"') { labels.push(this.string()); this.skip(false) }
      this.expect('{')
      const inner = this.body(true)
      if (inner.blocks.length > 0) this.fail('nested blocks are not supported')
      blocks.push({ type: name, labels, attributes: inner.attributes })
    }
  }
}

/** The top-level blocks of an HCL file (top-level attributes are an error). */
export function parseHcl (text: string): HclBlock[] {
  const reader = new Reader(text)
  const { attributes, blocks } = reader.body(false)
  if (Object.keys(attributes).length > 0) throw new Error('top-level attributes in a Terraform file')
  return blocks
}

export function findBlock (blocks: HclBlock[], type: string, ...labels: string[]): HclBlock {
  const found = blocks.find((b) => b.type === type && labels.every((l, i) => b.labels[i] === l))
  if (found === undefined) throw new Error(`no ${type} ${labels.join(' ')} block`)
  return found
}
