// Where focus goes when the page or a wizard step changes, so keyboard and screen-reader users
// land on the new content (a hash change alone leaves focus on a link that is gone): the page's
// marked field when it has one (data-autofocus; the autofocus attribute works only on the first
// load of a document), else its h1 (tabindex=-1). Pages load their data first, so arrival waits
// for the heading to appear. The heading's text is also announced in a live region and becomes
// the document's title.
import { useEffect, useRef } from 'preact/hooks'

export const ANNOUNCER_ID = 'page-announcer'
/** A page that has not shown its heading within this long gets no focus move. */
const ARRIVAL_WAIT_MS = 10_000

export function announce (text: string): void {
  const region = document.getElementById(ANNOUNCER_ID)
  if (region !== null) region.textContent = text
}

function arrive (main: HTMLElement): boolean {
  const heading = main.querySelector<HTMLElement>('h1')
  if (heading === null) return false
  const title = heading.textContent?.trim() ?? ''
  document.title = `${title} · deputy console`
  announce(title)
  const target = main.querySelector<HTMLElement>('[data-autofocus]') ?? heading
  if (!target.hasAttribute('tabindex') && target === heading) heading.tabIndex = -1
  target.focus()
  return true
}

/** Moves focus to the new page each time `page` changes (not on the first render). */
export function usePageArrival (page: string): void {
  const first = useRef(true)
  useEffect(() => {
    if (first.current) { first.current = false; return }
    const main = document.getElementById('main')
    if (main === null || arrive(main)) return
    const observer = new MutationObserver(() => { if (arrive(main)) stop() })
    const timer = setTimeout(() => { stop() }, ARRIVAL_WAIT_MS)
    const stop = (): void => { observer.disconnect(); clearTimeout(timer) }
    observer.observe(main, { childList: true, subtree: true })
    return stop
  }, [page])
}

/**
 * For a wizard step's heading: focused and announced when it appears (a callback ref, as a step
 * may show its heading only once its data has loaded).
 */
export function useStepFocus (label: string): (element: HTMLElement | null) => void {
  const done = useRef(false)
  return (element) => {
    if (element === null || done.current) return
    done.current = true
    element.focus()
    announce(label)
  }
}
