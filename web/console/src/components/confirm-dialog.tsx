// A confirmation that names what will happen before a lifecycle change or a revoke. A native
// modal <dialog>: focus moves into it, Escape cancels, and nothing behind it can be clicked.
// When it goes, focus returns to the button that opened it (or, if that button is gone because
// the action changed the page, to the page's heading).
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'

export interface ConfirmDialogProps {
  title: string
  confirmLabel: string
  /** What will happen, in words. */
  children: ComponentChildren
  /** Ask for a reason (kept in the audit trail); the API requires 3 to 500 characters. */
  reason?: boolean
  danger?: boolean
  onConfirm: (reason: string) => void
  onCancel: () => void
}

export function ConfirmDialog ({ title, confirmLabel, children, reason = false, danger = false, onConfirm, onCancel }: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null)
  const [text, setText] = useState('')
  useEffect(() => {
    const opener = document.activeElement
    const element = dialog.current
    if (element !== null && !element.open) element.showModal()
    return () => {
      element?.close()
      // After this render commits: the opener may be replaced (Suspend becomes Resume).
      setTimeout(() => {
        const target = opener instanceof HTMLElement && opener.isConnected ? opener : document.querySelector<HTMLElement>('main h1')
        target?.focus()
      }, 0)
    }
  }, [])
  const ready = !reason || text.trim().length >= 3
  return (
    <dialog ref={dialog} class='confirm' aria-labelledby='confirm-title' onCancel={(event) => { event.preventDefault(); onCancel() }}>
      <form method='dialog' onSubmit={(event) => { event.preventDefault(); if (ready) onConfirm(text.trim()) }}>
        <h2 id='confirm-title'>{title}</h2>
        <div class='confirm-body'>{children}</div>
        {reason && (
          <label class='field'>
            Reason (kept in the audit trail)
            <input type='text' required minLength={3} maxLength={500} value={text} aria-describedby='confirm-why' onInput={(event) => { setText(event.currentTarget.value) }} autoFocus />
          </label>
        )}
        <div class='actions'>
          <button type='button' onClick={onCancel}>Cancel</button>
          <button type='submit' class={danger ? 'danger' : 'primary'} disabled={!ready} aria-describedby='confirm-why'>{confirmLabel}</button>
          {/* Why the button is disabled, next to it and read with it. */}
          {!ready && <span id='confirm-why' class='muted why'>Type a reason (3 characters or more) to {confirmLabel.toLowerCase()}.</span>}
        </div>
      </form>
    </dialog>
  )
}
