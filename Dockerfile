# syntax=docker/dockerfile:1
# notion-mcp-remote: multi-stage image. Build: docker build -t notion-mcp-remote .
# Run:   docker run --env-file .env -p 8000:8000 -v nmr-data:/data notion-mcp-remote
# See docs/deployment.md.

# ---- build: compile TypeScript and the native better-sqlite3 module ----
FROM node:20-bookworm-slim AS build
# better-sqlite3 downloads a prebuilt binary when one exists and compiles with node-gyp otherwise.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# package.json's "allowScripts" (npm 11 install-script policy) allows better-sqlite3's install script
# and denies esbuild's; the npm 10 bundled with node:20 runs every install script, which also works.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: only dist/, production node_modules and package.json ----
FROM node:20-bookworm-slim AS runtime
# A dedicated unprivileged user owns the data volume; the process never runs as root.
RUN groupadd --system --gid 10001 nmr \
 && useradd --system --uid 10001 --gid nmr --home-dir /app --shell /usr/sbin/nologin nmr \
 && mkdir -p /data \
 && chown nmr:nmr /data \
 && chmod 700 /data
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# HOST: listen on every interface inside the container (the default 127.0.0.1 is unreachable from outside).
# DATA_DIR: the embedded SQLite store; unused when REDIS_URL is set.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
VOLUME ["/data"]
USER nmr
EXPOSE 8000
# Liveness on /health with node itself: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: the server stops accepting, finishes requests in flight (at most 25 s) and exits 0.
STOPSIGNAL SIGTERM
# The same command as `npm start` (see README, "Memory").
CMD ["node", "--max-old-space-size=256", "dist/main.js"]
