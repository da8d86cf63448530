# The `tandemu` binary, one image for every role of docker-compose.yml (ingest, process,
# query-api, migrate): the role is the command, e.g. `docker run IMAGE ingest`.
#
# Builder: the Rust toolchain, plus what the bundled librdkafka needs (gcc, g++, make; zlib for
# its compression). No TLS library: the crates are built without openssl/native-tls/rustls
# (see Cargo.lock), so the runtime needs no libssl for the binary itself.
# Runtime: Debian slim, ca-certificates, curl for the compose health checks, a non-root user.
#
# The base images are pinned in scripts/compose-images.txt; scripts/check-compose.sh checks both.

FROM rust:1.95-slim-trixie AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the crates and the target folder between builds (BuildKit, the default
# builder of current Docker); the binary is copied out because the target mount does not persist.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tandemu \
    && install -m 0755 target/release/tandemu /usr/local/bin/tandemu

FROM debian:trixie-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/tandemu --create-home --shell /usr/sbin/nologin tandemu
COPY --from=build /usr/local/bin/tandemu /usr/local/bin/tandemu
USER tandemu
WORKDIR /var/lib/tandemu
# 4317 OTLP/gRPC and 4318 OTLP/HTTP (ingest), 8080 query API, 9464 processor /metrics.
EXPOSE 4317 4318 8080 9464
ENTRYPOINT ["tandemu"]
CMD ["--help"]
