// Copies a snippet (Terraform, AWS CLI, an ID) and says so in a live region.
import { useState } from 'preact/hooks'

export function CopyButton ({ text, label }: { text: string, label: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>()
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text)
      setCopied('yes')
    } catch {
      setCopied('no')
    }
  }
  return (
    <span class='copy'>
      <button type='button' onClick={() => { copy() }}>{label}</button>
      <span role='status' class='copy-status'>{copied === 'yes' ? 'Copied' : copied === 'no' ? 'Copy failed: select the text and copy it' : ''}</span>
    </span>
  )
}
