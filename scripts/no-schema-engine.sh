#!/bin/sh
# Placeholder for Prisma's native schema engine (see scripts/generate-client.mjs). deputy never
# needs it: migrations are plain SQL applied by `deputy migrate`.
echo "deputy does not use Prisma's schema engine; run 'deputy migrate' (or unset PRISMA_SCHEMA_ENGINE_BINARY)" >&2
exit 1
