// The API token the user pasted, kept for this tab only: sessionStorage dies with the tab, is
// never sent anywhere but the Authorization header, and never lands in a URL or localStorage.
const KEY = 'deputy.console.token'

type Listener = (signedIn: boolean) => void
const listeners = new Set<Listener>()

export const session = {
  token (): string | null {
    return sessionStorage.getItem(KEY)
  },
  signIn (token: string): void {
    sessionStorage.setItem(KEY, token)
    for (const listener of listeners) listener(true)
  },
  signOut (): void {
    // Everything the console kept for this session goes with the token.
    sessionStorage.clear()
    for (const listener of listeners) listener(false)
  },
  subscribe (listener: Listener): () => void {
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }
}
