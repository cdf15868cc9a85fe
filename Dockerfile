# oneiric-healthd container image: the same configuration file as
# systemd/oneiric-healthd.service (/etc/oneiric-healthd/healthd.yaml, state in
# /var/lib/oneiric-healthd), with the variables it reads set for a container:
# listening on 0.0.0.0, the registry named by ONEIRIC_REGISTRY_HOST/PORT. See
# docs/operations.md and docs/probes.md.
#
#   docker build -t oneiric-healthd .
#   docker run -d --name oneiric-healthd --stop-timeout 30 \
#     -e ONEIRIC_REGISTRY_HOST=registry.example.internal -e ONEIRIC_REGISTRY_PORT=8679 \
#     -p 127.0.0.1:8681:8681 -p 127.0.0.1:8682:8682 \
#     -v oneiric-healthd-state:/var/lib/oneiric-healthd \
#     oneiric-healthd
#   docker run --rm -p 127.0.0.1:8681:8681 oneiric-healthd demo --http-listen 0.0.0.0:8681

# Build: compile the native modules (better-sqlite3, unix-dgram) from source and
# the TypeScript to dist/, then drop the development dependencies.
FROM node:20-bookworm AS build
# node-gyp needs python3, make and g++ (already in this image; listed to be sure).
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# Build native modules from source against this image's Node headers (no downloads).
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund

# Runtime: the same Node major and Debian release as the build, so the native
# modules load; no compiler, no npm cache, a non-root user.
FROM node:20-bookworm-slim
# The sample configuration reads these (${VARIABLE:-default}); `docker run -e` overrides them.
# Loopback inside a container reaches nothing, so the daemon listens on every
# interface: publish the ports to 127.0.0.1 on the host, or put the daemon behind
# something that authenticates. `localhost` would be the container itself, so the
# registry defaults to the Docker host (Docker Desktop names it; on Linux add
# --add-host=host.docker.internal:host-gateway), or set ONEIRIC_REGISTRY_HOST.
ENV ONEIRIC_HEALTHD_COMPILED=1 \
    ONEIRIC_HEALTHD_HTTP_LISTEN=0.0.0.0:8681 \
    ONEIRIC_HEALTHD_GRPC_LISTEN=0.0.0.0:8682 \
    ONEIRIC_REGISTRY_HOST=host.docker.internal \
    ONEIRIC_REGISTRY_PORT=8679
RUN groupadd --system --gid 10001 oneiric-healthd \
  && useradd --system --uid 10001 --gid oneiric-healthd \
    --home-dir /var/lib/oneiric-healthd --no-create-home --shell /usr/sbin/nologin oneiric-healthd \
  && install -d -o oneiric-healthd -g oneiric-healthd -m 0700 /var/lib/oneiric-healthd
WORKDIR /opt/oneiric-healthd
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY proto ./proto
# The status page served at / (docs/status-page.md).
COPY web ./web
# The demo's scenario: `docker run IMAGE demo` runs what `npm start` runs.
COPY examples/scenarios ./examples/scenarios
COPY deploy/etc/oneiric-healthd/healthd.yaml /etc/oneiric-healthd/healthd.yaml
USER oneiric-healthd
VOLUME ["/var/lib/oneiric-healthd"]
# 8681 HTTP (API, the status page at /, /metrics, /healthz, /readyz, /mcp); 8682 gRPC.
EXPOSE 8681 8682
# Readiness, asked the way the configuration serves it: its address, HTTPS with the
# certificate it names, ONEIRIC_HEALTHD_TOKEN when the probes are closed. "healthy"
# means ready (a catalog to watch, a database taking writes), so a container pointed
# at a registry that never answers shows as unhealthy, with the reason in
# `docker inspect`. Liveness only: --health-cmd without --ready (docs/probes.md).
# Checked outside a container by test/container-image.test.ts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "/opt/oneiric-healthd/bin/oneiric-healthd.js", "healthcheck", "--config", "/etc/oneiric-healthd/healthd.yaml", "--ready"]
ENTRYPOINT ["node", "/opt/oneiric-healthd/bin/oneiric-healthd.js"]
CMD ["run", "--config", "/etc/oneiric-healthd/healthd.yaml"]
