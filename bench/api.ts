// Setting the scene through the public APIs (deputy's and the STS emulator's admin interface),
// outside any measurement: customers, external IDs, roles, connections and API clients.
export async function json<T> (url: string, init: { method?: string, token?: string, body?: unknown } = {}): Promise<T> {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST')
  const res = await fetch(url, {
    method,
    headers: {
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' })
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`)
  return JSON.parse(text) as T
}

export const createCustomer = (deputyUrl: string, token: string, name: string): Promise<{ id: string }> =>
  json(`${deputyUrl}/v1/customers`, { token, body: { name } })
