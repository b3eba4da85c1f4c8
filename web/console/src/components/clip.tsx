// Text that may be any length (a name, a reference, an ARN): one line with an ellipsis in a
// table cell; hover shows it whole (and its title), and so does keyboard focus when the text is
// long enough to be cut (short values stay out of the tab order).
const MAY_BE_CUT = 24

export function Clip ({ text, code = false }: { text: string, code?: boolean }) {
  const inner = code ? <code>{text}</code> : text
  return <span class='clip' title={text} tabIndex={text.length > MAY_BE_CUT ? 0 : undefined}>{inner}</span>
}
