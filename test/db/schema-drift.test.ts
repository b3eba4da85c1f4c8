// prisma/schema.prisma and the migrated database must describe the same tables: every model
// field has its column with the same type and nullability, every column has its field, every
// enum has the same values, and every named index exists. (`prisma migrate diff` needs the
// native schema engine, unavailable here; this is the check that replaces it.)
import { readFile } from 'node:fs/promises'
import pg from 'pg'
import t from 'tap'
import { createTestDatabase } from '../helpers/postgres.js'

interface Field { name: string, column: string, type: string, optional: boolean, list: boolean, dbType: string | undefined }
interface Model { name: string, table: string, fields: Field[], indexes: string[] }

const SCALARS = new Set(['String', 'Int', 'BigInt', 'Boolean', 'DateTime', 'Json', 'Float', 'Decimal', 'Bytes'])

function parseSchema (text: string): { models: Model[], enums: Map<string, { dbName: string, values: string[] }> } {
  const models: Model[] = []
  const enums = new Map<string, { dbName: string, values: string[] }>()
  for (const block of text.matchAll(/^(model|enum) (\w+) \{([\s\S]*?)^\}/gm)) {
    const [, kind, name = '', body = ''] = block
    const lines = body.split('\n').map((l) => l.replace(/\/\/.*$/, '').trim()).filter((l) => l !== '')
    const map = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? name
    if (kind === 'enum') {
      enums.set(name, { dbName: map, values: lines.filter((l) => !l.startsWith('@@')) })
      continue
    }
    const fields: Field[] = []
    for (const line of lines.filter((l) => !l.startsWith('@@'))) {
      const match = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line)
      if (match === null) continue
      const [, fieldName = '', type = '', list, optional, attributes = ''] = match
      if (/@relation/.test(attributes)) continue
      if (!SCALARS.has(type) && !text.includes(`enum ${type} {`)) continue // a relation list
      fields.push({ name: fieldName, column: /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? fieldName, type, optional: optional !== undefined, list: list !== undefined, dbType: /@db\.(\w+)/.exec(attributes)?.[1] })
    }
    const indexes = [...body.matchAll(/map: "([^"]+)"/g)].map((m) => m[1] ?? '')
    models.push({ name, table: map, fields, indexes })
  }
  return { models, enums }
}

function expectedUdt (field: Field, enums: Map<string, { dbName: string }>): string {
  const enumType = enums.get(field.type)
  if (enumType !== undefined) return enumType.dbName
  if (field.dbType === 'Uuid') return 'uuid'
  if (field.dbType === 'Timestamptz') return 'timestamptz'
  const base: Record<string, string> = { String: 'text', Int: 'int4', BigInt: 'int8', Boolean: 'bool', DateTime: 'timestamp', Json: 'jsonb', Float: 'float8' }
  return base[field.type] ?? field.type
}

t.test('schema.prisma matches the migrated database', async (t) => {
  const { models, enums } = parseSchema(await readFile(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8'))
  t.ok(models.length >= 5, `parsed ${models.length} models`)
  const client = new pg.Client({ connectionString: await createTestDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())

  const columns = await client.query<{ table_name: string, column_name: string, udt_name: string, is_nullable: string }>(
    "SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'")
  const tables = new Set(columns.rows.map((c) => c.table_name))
  t.same([...tables].sort(), models.map((m) => m.table).sort(), 'the same tables')

  for (const model of models) {
    const dbColumns = columns.rows.filter((c) => c.table_name === model.table)
    t.same(dbColumns.map((c) => c.column_name).sort(), model.fields.map((f) => f.column).sort(), `${model.table}: the same columns`)
    for (const field of model.fields) {
      const column = dbColumns.find((c) => c.column_name === field.column)
      if (column === undefined) continue
      const udt = expectedUdt(field, enums)
      t.equal(column.udt_name, field.list ? `_${udt}` : udt, `${model.table}.${field.column} type`)
      t.equal(column.is_nullable === 'YES', field.optional, `${model.table}.${field.column} nullability`)
    }
    const indexes = await client.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE tablename = $1', [model.table])
    for (const index of model.indexes) t.ok(indexes.rows.some((i) => i.indexname === index), `${model.table}: index ${index} exists`)
  }

  const dbEnums = await client.query<{ typname: string, labels: string[] }>(
    'SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname')
  t.same(dbEnums.rows.map((e) => e.typname).sort(), [...enums.values()].map((e) => e.dbName).sort(), 'the same enums')
  for (const { dbName, values } of enums.values()) {
    t.same(dbEnums.rows.find((e) => e.typname === dbName)?.labels, values, `enum ${dbName} values`)
  }
})
