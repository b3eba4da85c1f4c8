// Sign in: the user pastes an API token once. It is checked against the API (a token deputy
// refuses is never kept) and then lives in this tab's sessionStorage only.
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client'
import { ApiProblem, toProblem } from '../api/problem'
import { ProblemMessage } from '../components/problem-message'
import { ANNOUNCER_ID } from '../lib/focus'
import { session } from '../session'

export function SignIn () {
  const [token, setToken] = useState('')
  const [problem, setProblem] = useState<ApiProblem | undefined>()
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    setBusy(true)
    setProblem(undefined)
    const candidate = token.trim()
    try {
      // Any read proves the token; a token without customers:read (403) is still a valid token.
      await unwrap(api.GET('/v1/customers', { params: { query: { limit: 1 } }, headers: { authorization: `Bearer ${candidate}` } }))
      session.signIn(candidate)
    } catch (error) {
      const failure = toProblem(error)
      if (failure.status === 403) session.signIn(candidate)
      else setProblem(failure)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class='sign-in' id='main'>
      <h1 tabIndex={-1}>deputy console</h1>
      <p>Paste an API token. It is kept in this browser tab only (sessionStorage), sent only to this deputy, and forgotten when you sign out or close the tab.</p>
      <form onSubmit={(event) => { submit(event) }}>
        <label class='field'>
          API token
          <input type='password' name='token' autoComplete='off' spellcheck={false} required value={token} onInput={(event) => { setToken(event.currentTarget.value) }} autoFocus data-autofocus />
        </label>
        <button type='submit' class='primary' disabled={busy || token.trim() === ''}>Sign in</button>
      </form>
      <ProblemMessage problem={problem} />
      <p id={ANNOUNCER_ID} class='visually-hidden' role='status' />
    </main>
  )
}
