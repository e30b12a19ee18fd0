# Pipeline Supervisor — container image (OCI; Docker and podman).
#
#   docker build -t pipeline-supervisor .                       # public base: node:20-bookworm-slim
#   podman build --format docker --build-arg BASE_IMAGE=localhost/supervisor-base:bookworm \
#     -t pipeline-supervisor .                                  # a locally made base (stack/container-base.ts)
#   docker build --target ingestion -t domain-ingestion .       # the reference ingestion service
#
# Any Debian bookworm image with Node 20 under /usr/local works as BASE_IMAGE. `--format docker`
# keeps the HEALTHCHECK with podman (the OCI image format has no field for it).
ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim

# ---- deps: every dependency, better-sqlite3 compiled with the toolchain (never shipped) ----
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
# better-sqlite3 is a native module: without a reachable prebuilt binary it is compiled here,
# against the headers of the image's own Node (no download of headers either).
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
RUN if ! command -v g++ >/dev/null || ! command -v make >/dev/null || ! command -v python3 >/dev/null; then \
      apt-get update -q && apt-get install -y -q --no-install-recommends g++ make python3 && rm -rf /var/lib/apt/lists/*; \
    fi
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script (a build) needs the sources, which come later; only
# better-sqlite3 needs its install step, run explicitly.
# An optional build secret `npm_ca` (a CA bundle) is for registries behind a TLS-intercepting
# proxy: `--secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt`. It never enters a layer.
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
    && npm ci --ignore-scripts --no-audit && npm rebuild better-sqlite3

# ---- build: TypeScript → dist/ (the daemon and the reference ingestion CLI) ----
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY streams ./streams
COPY checks ./checks
COPY alerts ./alerts
COPY stack/pipeline ./stack/pipeline
COPY deploy/ingestion ./deploy/ingestion
RUN npm run build && npx tsc -p deploy/ingestion/tsconfig.json

# ---- prod-deps: production dependencies only, with the compiled better-sqlite3 ----
FROM ${BASE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=deps /app/node_modules/better-sqlite3/build/Release/better_sqlite3.node ./node_modules/better-sqlite3/build/Release/better_sqlite3.node

# ---- runtime: what both images share ----
FROM ${BASE_IMAGE} AS runtime
WORKDIR /app
RUN groupadd --system --gid 10001 supervisor \
    && useradd --system --uid 10001 --gid supervisor --home-dir /var/lib/supervisor --shell /usr/sbin/nologin supervisor \
    && mkdir -p /etc/supervisor /var/lib/supervisor \
    && chown supervisor:supervisor /var/lib/supervisor
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# what tsc does not copy (the task wrapper, the web UI's static files) is read from src/, where
# findRepoRoot() also looks for the package root
COPY src ./src
COPY config ./config
COPY stack/pipeline/sources.yaml ./stack/pipeline/sources.yaml
COPY stack/pipeline/feeds ./stack/pipeline/feeds
# the ingestion CLI reads its Avro schema beside its compiled code
COPY stack/pipeline/schemas ./dist/stack/pipeline/schemas
# the shipped config, with the ingestion's sources at their place in the image
RUN sed 's#config_path: \.\./stack/pipeline/sources.yaml#config_path: /app/stack/pipeline/sources.yaml#' config/supervisor.yaml > /etc/supervisor/supervisor.yaml
ENV NODE_ENV=production

# ---- ingestion: the reference ingestion service (the `docker` execution mode's default image) ----
FROM runtime AS ingestion
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/stack/pipeline/ingestion/cli.js"]

# ---- supervisor (the default target) ----
FROM runtime AS supervisor
ENV SUPERVISOR_CONFIG=/etc/supervisor/supervisor.yaml \
    SUPERVISOR_HOST=0.0.0.0 \
    SUPERVISOR_PORT=8090 \
    SUPERVISOR_STORE=/var/lib/supervisor/supervisor.db
VOLUME ["/etc/supervisor", "/var/lib/supervisor"]
EXPOSE 8090
USER 10001:10001
# GET /healthz of this container's process: `start` on SUPERVISOR_PORT, `worker` on its --listen
# address (a worker without one serves nothing: the check passes while it runs); bin/healthcheck.cjs
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "/app/bin/healthcheck.cjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/bin/supervisor.js"]
CMD ["start"]
