# syntax=docker/dockerfile:1
#
# One image for every apimon program. compose.yaml picks the program by its command:
#   node dist/src/programs/<api|consumer|migrate|producer|simulator>.js
# The programs run compiled (npm run build), not through tsx: the TypeScript loader costs ~100 MB
# of RSS per process (npm run bench -- memory; `--tsx` for the development figure).

FROM node:22-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# --- build: type-checks and compiles src/ and migrations/ to dist/ ----------------------------
FROM base AS build
COPY package.json package-lock.json ./
# every dependency, dev ones included (typescript); no install scripts are needed or run
RUN npm ci --include=dev --ignore-scripts
COPY tsconfig.json tsconfig.build.json topics.json ./
COPY src ./src
COPY migrations ./migrations
# tsc -p tsconfig.build.json (npm run build): fails on a type error, so the image is built only
# from sources that type-check
RUN npx tsc -p tsconfig.build.json

# --- runtime -------------------------------------------------------------------------------
FROM base AS runtime
COPY package.json package-lock.json ./
# production dependencies only (effect, kafkajs, mysql2, …); install scripts skipped: the
# programs need none (msgpackr takes its prebuilt binary from an optional package)
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY topics.json ./
COPY --from=build /app/dist ./dist
# the node image's unprivileged user (uid 1000); the app files stay root-owned, read-only to it
USER node
EXPOSE 8000
CMD ["node", "dist/src/programs/api.js"]
