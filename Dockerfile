# oneiric-healthd container image: the same defaults as systemd/oneiric-healthd.service
# (config /etc/oneiric-healthd/healthd.yaml, state /var/lib/oneiric-healthd), but
# listening on 0.0.0.0 inside the container. See docs/operations.md.
#
#   docker build -t oneiric-healthd .
#   docker run -d --name oneiric-healthd --stop-timeout 30 \
#     -p 127.0.0.1:8681:8681 -p 127.0.0.1:8682:8682 \
#     -v oneiric-healthd-state:/var/lib/oneiric-healthd \
#     -v /etc/oneiric-healthd/healthd.yaml:/etc/oneiric-healthd/healthd.yaml:ro \
#     oneiric-healthd

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
ENV ONEIRIC_HEALTHD_COMPILED=1
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
COPY deploy/etc/oneiric-healthd/healthd.yaml /etc/oneiric-healthd/healthd.yaml
USER oneiric-healthd
VOLUME ["/var/lib/oneiric-healthd"]
# 8681 HTTP (API, /metrics, /healthz, /readyz, /mcp); 8682 gRPC.
EXPOSE 8681 8682
# Liveness from inside the container: the slim image has no curl, Node has fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8681/healthz',{signal:AbortSignal.timeout(4000)}).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/opt/oneiric-healthd/bin/oneiric-healthd.js"]
# Loopback inside a container reaches nothing: the flags (which override the file)
# listen on every interface. Publish the ports to 127.0.0.1 on the host, or put
# the daemon behind something that authenticates.
CMD ["run", "--config", "/etc/oneiric-healthd/healthd.yaml", "--http-listen", "0.0.0.0:8681", "--grpc-listen", "0.0.0.0:8682"]
