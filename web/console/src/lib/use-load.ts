// Loads data for a page and keeps the problem, if any, to show; `reload` runs it again.
import { useCallback, useEffect, useState } from 'preact/hooks'
import { toProblem, type ApiProblem } from '../api/problem'

export interface Loaded<T> {
  data: T | undefined
  problem: ApiProblem | undefined
  loading: boolean
  reload: () => void
}

export function useLoad<T> (load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T, problem?: ApiProblem, loading: boolean }>({ loading: true })
  const [generation, setGeneration] = useState(0)
  useEffect(() => {
    let live = true
    setState((previous) => ({ data: previous.data, loading: true }))
    load().then(
      (data) => { if (live) setState({ data, loading: false }) },
      (error: unknown) => { if (live) setState({ problem: toProblem(error), loading: false }) }
    )
    return () => { live = false }
  }, [...deps, generation])
  const reload = useCallback(() => { setGeneration((g) => g + 1) }, [])
  return { data: state.data, problem: state.problem, loading: state.loading, reload }
}

/** Runs an action (a button), keeping its problem to show next to it. */
export function useAction<A extends unknown[], T> (action: (...args: A) => Promise<T>): { run: (...args: A) => Promise<T | undefined>, busy: boolean, problem: ApiProblem | undefined, clear: () => void } {
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<ApiProblem | undefined>()
  const run = async (...args: A): Promise<T | undefined> => {
    setBusy(true)
    setProblem(undefined)
    try {
      return await action(...args)
    } catch (error) {
      setProblem(toProblem(error))
      return undefined
    } finally {
      setBusy(false)
    }
  }
  return { run, busy, problem, clear: () => { setProblem(undefined) } }
}
