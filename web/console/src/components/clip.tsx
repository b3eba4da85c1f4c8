// Text that may be any length (a name, a reference, an ARN). Clip: one line with an ellipsis, for
// a table cell. Clamp: two lines, for a heading or a banner. Either way the title shows it whole
// on hover, and so does keyboard focus when the text is long enough to be cut (short values stay
// out of the tab order).
const MAY_BE_CUT = 24

const focusable = (text: string): 0 | undefined => text.length > MAY_BE_CUT ? 0 : undefined

export function Clip ({ text }: { text: string }) {
  return <span class='clip' title={text} tabIndex={focusable(text)}>{text}</span>
}

export function Clamp ({ text, title = text }: { text: string, title?: string | undefined }) {
  return <span class='clamp' title={title} tabIndex={focusable(text)}>{text}</span>
}
