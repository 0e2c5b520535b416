# syntax=docker/dockerfile:1
#
# One image for every apimon program. compose.yaml picks the program by its command:
#   node dist/src/programs/<api|consumer|migrate|producer|simulator>.js
# The programs run compiled (npm run build), not through tsx: the TypeScript loader costs ~100 MB
# of RSS per process (npm run bench -- memory; `--tsx` for the development figure).
#
# Node: the exact release the tests and CI run on (Node 20, the major of @types/node).

FROM node:20.20.2-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# --- deps: every dependency from the lock, the kafkajs patch applied -------------------------
FROM base AS deps
COPY package.json package-lock.json ./
# patches/ before the install: patch-package (a devDependency) applies them right after it
COPY patches ./patches
# dev dependencies included (typescript, patch-package). No dependency's install script runs: none
# is needed (esbuild, msgpackr-extract and @parcel/watcher take prebuilt binaries from optional
# packages), and this image's npm 10 does not read package.json's allowScripts. The patch is
# applied explicitly instead of by the postinstall script; a patch that no longer applies fails
# the build.
RUN npm ci --include=dev --ignore-scripts && npx patch-package --error-on-fail

# --- build: type-checks and compiles src/ and migrations/ to dist/ ----------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json topics.json ./
COPY src ./src
COPY migrations ./migrations
# tsc -p tsconfig.build.json (npm run build): fails on a type error, so the image is built only
# from sources that type-check
RUN npx tsc -p tsconfig.build.json

# --- production dependencies: the patched tree without the dev dependencies -----------------
FROM deps AS production-deps
# (npm leaves the scope folders of what it removed, empty: @esbuild, @rollup, …)
RUN npm prune --omit=dev && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete

# --- runtime -------------------------------------------------------------------------------
FROM base AS runtime
# package.json: "type": "module" for the compiled programs
COPY package.json ./
COPY --from=production-deps /app/node_modules ./node_modules
COPY topics.json ./
COPY --from=build /app/dist ./dist
# the node image's unprivileged user (uid 1000); the app files stay root-owned, read-only to it
USER node
EXPOSE 8000
CMD ["node", "dist/src/programs/api.js"]
