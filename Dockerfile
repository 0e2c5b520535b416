# syntax=docker/dockerfile:1
#
# One image for every apimon program. compose.yaml picks the program by its command:
#   node --import tsx src/programs/<api|consumer|migrate|producer|simulator>.ts
# (tsx is a runtime dependency: the TypeScript sources run as they are, nothing is compiled.)

FROM node:22-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# --- typecheck: the image is built only from sources that type-check --------------------------
FROM base AS typecheck
COPY package.json package-lock.json ./
# every dependency, dev ones included (typescript); no install scripts are needed or run
RUN npm ci --include=dev --ignore-scripts
COPY tsconfig.json topics.json ./
COPY src ./src
COPY migrations ./migrations
RUN npx tsc --noEmit --project tsconfig.json && touch /tmp/typechecked

# --- runtime -------------------------------------------------------------------------------
FROM base AS runtime
COPY package.json package-lock.json ./
# production dependencies only (tsx, effect, kafkajs, mysql2, …); install scripts skipped:
# esbuild and msgpackr take their prebuilt binaries from optional packages
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY topics.json tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
# ties this stage to the typecheck stage (BuildKit skips stages nothing depends on)
COPY --from=typecheck /tmp/typechecked /tmp/typechecked
# the node image's unprivileged user (uid 1000); the app files stay root-owned, read-only to it
USER node
EXPOSE 8000
CMD ["node", "--import", "tsx", "src/programs/api.ts"]
