# syntax=docker/dockerfile:1
#
# callsheet in a container: a release build on Debian bookworm, run as a non-root
# user on debian:bookworm-slim. SQLite by default, kept in the /data volume; set
# CALLSHEET_DATABASE_URL to a postgres:// URL to use PostgreSQL (see compose.yaml).
#
#   docker build -t callsheet .
#   docker run -d --name callsheet -p 127.0.0.1:8080:8080 -v callsheet-data:/data callsheet
#   docker exec callsheet callsheet account create "Acme Contact Centre"
#
# docs/DEPLOY.md covers the proxy in front, backups and upgrades.

FROM rust:1-bookworm AS build
WORKDIR /src
# The whole tree: Cargo.toml names the benches, so they must be there to build.
# .dockerignore keeps target/ and .git/ out of the context.
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binary
# is copied out of the cached target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/callsheet /usr/local/bin/callsheet

FROM debian:bookworm-slim
# TLS to PostgreSQL verifies against the system's CA store (sslrootcert=system).
# SQLite is compiled in and TLS is rustls: nothing else is needed at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 callsheet \
    && useradd --system --uid 10001 --gid callsheet --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin callsheet \
    && mkdir -p /data \
    && chown callsheet:callsheet /data \
    && chmod 0750 /data
COPY --from=build /usr/local/bin/callsheet /usr/local/bin/callsheet

ENV CALLSHEET_DATABASE_URL=sqlite:///data/callsheet.db \
    CALLSHEET_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
WORKDIR /data
USER callsheet:callsheet
EXPOSE 8080

# Liveness without curl: bash (always in Debian) speaks HTTP to /healthz over
# /dev/tcp, on the port CALLSHEET_LISTEN names.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${CALLSHEET_LISTEN##*:} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

# SIGTERM (docker stop) stops accepting connections and finishes the requests in
# flight; give a long import time with `docker stop -t 120`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["callsheet"]
CMD ["serve"]
