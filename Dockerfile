# deputy: multi-stage build. The runtime image holds production dependencies, the compiled
# JavaScript, the SQL migrations and the built browser console, and runs as an unprivileged user.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY web/console/package.json ./web/console/
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY openapi.yaml ./
COPY web/console ./web/console
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
# The image is what runs in production: never the sandbox, even without DATABASE_URL.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DEPUTY_DATA_DIR=/data \
    DEPUTY_SANDBOX=false
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The browser console: static files only, served at /console/.
COPY --from=build --chown=node:node /app/web/console/dist ./web/console/dist
COPY --chown=node:node package.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node scripts/require-node.mjs ./scripts/
COPY --chown=node:node prisma ./prisma
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/deputy.js"]
CMD ["serve"]
