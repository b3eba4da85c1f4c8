// Prisma CLI configuration. The runtime never reads this file: src/db/ builds the client with a
// driver adapter. `prisma migrate deploy` on a connected machine uses DATABASE_URL from here.
import { defineConfig } from 'prisma/config'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' }
})
