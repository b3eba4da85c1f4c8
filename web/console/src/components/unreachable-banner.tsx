// When deputy stops answering, one banner on every page says so, since when, and offers Retry;
// the pages' own requests then fail the same way, and their messages give way to it (a page
// full of "could not be reached" boxes under stale badges says less than one line at the top).
import { createContext } from 'preact'
import { utc } from '../lib/format'

/** True under a shown banner: a network failure is already said once, at the top. */
export const DeputyDown = createContext(false)

export function UnreachableBanner ({ since, checking, onRetry }: { since: string | undefined, checking: boolean, onRetry: () => void }) {
  if (since === undefined) return null
  return (
    <div class='banner banner-down' role='alert'>
      <strong>deputy is not answering</strong> (since {utc(since)}). What the page shows was loaded before and may be out of date; nothing you do here reaches deputy until it answers again.{' '}
      <button type='button' onClick={onRetry} disabled={checking}>{checking ? 'Checking…' : 'Retry'}</button>
    </div>
  )
}
