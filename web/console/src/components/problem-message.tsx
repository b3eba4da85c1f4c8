// A problem document as a person reads it: what went wrong (detail), what to do, and the request
// id to quote to support. role="alert" so a screen reader announces it when it appears.
import { guidanceFor, type ApiProblem } from '../api/problem'
import { useContext } from 'preact/hooks'
import { session } from '../session'
import { DeputyDown } from './unreachable-banner'

export function ProblemMessage ({ problem }: { problem: ApiProblem | undefined }) {
  const down = useContext(DeputyDown)
  if (problem === undefined || (down && problem.status === 0)) return null
  const guidance = guidanceFor(problem.status)
  const fieldErrors = problem.document.errors ?? []
  return (
    <div class='problem' role='alert' data-code={problem.code}>
      <p class='problem-title'><strong>{problem.title}</strong>{problem.status > 0 ? ` (${problem.status})` : ''}</p>
      <p class='problem-detail'>{problem.detail}</p>
      {fieldErrors.length > 0 && (
        <ul>{fieldErrors.map((error) => <li key={error.pointer}><code>{error.pointer || error.in}</code>: {error.detail}</li>)}</ul>
      )}
      {guidance !== undefined && <p>{guidance}</p>}
      {problem.status === 401 && session.token() !== null && <p><button type='button' onClick={() => { session.signOut() }}>Sign in again</button></p>}
      <p class='problem-meta'>
        Code <code>{problem.code}</code>
        {problem.requestId !== null && <> · Request id <code class='request-id'>{problem.requestId}</code> (quote it to support)</>}
      </p>
    </div>
  )
}
