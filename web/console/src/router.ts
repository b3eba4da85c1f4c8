// Hash routing: the console is static files, so every page lives after the '#' and deputy never
// needs a catch-all route. Query parameters after '?' in the hash carry filters (never a token).
import { useEffect, useState } from 'preact/hooks'

export interface Route {
  path: string[]
  query: URLSearchParams
}

function current (): Route {
  const hash = location.hash.replace(/^#\/?/, '')
  const [path = '', query = ''] = hash.split('?', 2)
  return { path: path.split('/').filter((part) => part !== '').map(decodeURIComponent), query: new URLSearchParams(query) }
}

export function useRoute (): Route {
  const [route, setRoute] = useState(current)
  useEffect(() => {
    const onChange = (): void => { setRoute(current()) }
    addEventListener('hashchange', onChange)
    return () => { removeEventListener('hashchange', onChange) }
  }, [])
  return route
}

/** The href of a page: href('customers', id) -> '#/customers/<id>'. */
export function href (...parts: Array<string | URLSearchParams>): string {
  const query = parts.find((part): part is URLSearchParams => part instanceof URLSearchParams)
  const path = parts.filter((part): part is string => typeof part === 'string').map(encodeURIComponent).join('/')
  const search = query === undefined || query.size === 0 ? '' : `?${query.toString()}`
  return `#/${path}${search}`
}

export function navigate (to: string): void {
  location.hash = to.replace(/^#/, '')
}
