// Keyset pagination: a cursor is the sort key of the last row returned, base64url-encoded so
// clients treat it as opaque. Cost does not grow with page depth.
import { Type } from 'typebox'
import { badRequest } from './errors.js'

export const LimitSchema = Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Page size (1-500).' })
export const CursorSchema = Type.String({ minLength: 1, maxLength: 200, description: 'The `nextCursor` of the previous page.' })

export const PageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' })
  })

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export function encodeCursor (key: Record<string, string>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor<K extends string> (cursor: string, keys: readonly K[]): Record<K, string> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (typeof parsed === 'object' && parsed !== null && keys.every((k) => typeof (parsed as Record<string, unknown>)[k] === 'string')) {
      return parsed as Record<K, string>
    }
  } catch {}
  throw badRequest('invalid_cursor', 'cursor is not one this API returned')
}

/** The cursor of lists ordered by (createdAt, id). */
export function decodeCreatedCursor (cursor: string): { createdAt: Date, id: string } {
  const key = decodeCursor(cursor, ['createdAt', 'id'])
  const createdAt = new Date(key.createdAt)
  // Only instants deputy could have written: PostgreSQL refuses some that JavaScript accepts.
  const year = createdAt.getUTCFullYear()
  if (Number.isNaN(createdAt.getTime()) || year < 1970 || year > 9999 || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key.id)) {
    throw badRequest('invalid_cursor', 'cursor is not one this API returned')
  }
  return { createdAt, id: key.id }
}

export const createdCursorKey = (row: { createdAt: Date, id: string }): Record<string, string> =>
  ({ createdAt: row.createdAt.toISOString(), id: row.id })

/** Fetch limit + 1 rows; the extra one tells whether another page exists. */
export function toPage<Row, Item> (rows: Row[], limit: number, toItem: (row: Row) => Item, keyOf: (row: Row) => Record<string, string>): Page<Item> {
  const hasMore = rows.length > limit
  const pageRows = hasMore ? rows.slice(0, limit) : rows
  const last = pageRows[pageRows.length - 1]
  return {
    items: pageRows.map(toItem),
    nextCursor: hasMore && last !== undefined ? encodeCursor(keyOf(last)) : null
  }
}
