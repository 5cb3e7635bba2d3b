# syntax=docker/dockerfile:1
#
# The regionstack operator image: the `regionstack` binary (rustls, no OpenSSL) on a
# distroless, non-root runtime.
#
# Build (from the repository root; needs BuildKit, the default since Docker 23):
#
#     docker build -t regionstack .
#     docker build --build-arg VERSION=0.1.0 -t ghcr.io/regionstack/regionstack:0.1.0 .
#
# Run: `docker run --rm regionstack check /manifests` or, in a cluster, the Helm chart
# (charts/regionstack), which passes `run --region <region>`.
#
# Why these choices:
# - The binary is built with `--no-default-features`: the default feature `demo`
#   links the Kubernetes API emulator and the PostgreSQL test harness, which have no
#   place in a production image. `--locked` builds exactly the reviewed Cargo.lock.
# - TLS is rustls (kube `rustls-tls`, tokio-postgres-rustls); no OpenSSL is linked.
#   crates/operator/tests/dockerfile.rs checks this with `cargo tree`.
# - The binary targets x86_64/aarch64-unknown-linux-gnu: it links glibc, libgcc_s and
#   libm dynamically, so the runtime is distroless `cc` (glibc + libgcc, no shell, no
#   package manager) rather than `static`, which has no libc. A fully static (musl)
#   build would allow `static`, at the cost of a cross toolchain and musl's slower
#   allocator; not worth it for a ~20 MiB operator.
# - The builder's Rust version is the toolchain CI builds and tests with; it must stay
#   >= the workspace `rust-version` (crates/operator/tests/dockerfile.rs checks that too).
# - UID/GID 65532 is distroless' `nonroot` user; the chart runs the Pod with the same
#   runAsUser, a read-only root filesystem and no capabilities.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binary
# is copied out of the cached target directory within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p regionstack --no-default-features \
    && install -D -m 0755 target/release/regionstack /out/regionstack

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="regionstack" \
      org.opencontainers.image.description="Kubernetes operator enforcing data residency for PostgreSQL (PII) and telemetry databases across regions" \
      org.opencontainers.image.source="https://github.com/regionstack/regionstack" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /out/regionstack /regionstack
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/regionstack"]
CMD ["run"]
