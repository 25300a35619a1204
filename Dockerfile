# syntax=docker/dockerfile:1
#
# The orderprocessor image: one static binary on a distroless base, run as a
# non-root user. Every role of the platform runs from this image
# (ORDERPROCESSOR_ROLE or --role picks one); see docs/deploy.md.
#
#   docker build -t orderprocessor/orderprocessor:0.1.0 .
#   docker run --rm -p 8080:8080 -v opdata:/data orderprocessor/orderprocessor:0.1.0
#
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ...
# (the builder runs on the build host's platform and cross-compiles).

# The image's Go is go.mod's toolchain line exactly (the golang images set
# GOTOOLCHAIN=local: they do not fetch another toolchain). Older Go
# releases have known vulnerabilities in net/http, crypto/tls and
# crypto/x509 that the server reaches.
ARG GO_VERSION=1.27.3

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Set by BuildKit from --platform (empty: the build host's).
ARG TARGETOS TARGETARCH
# CGO_ENABLED=0: a static binary that needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/orderprocessor ./cmd/orderprocessor
# The embedded store's directory, owned by the runtime user, so that a named
# volume mounted on /data starts with that ownership.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/orderprocessor /orderprocessor
COPY --from=build --chown=65532:65532 /out/data /data
# 65532 is distroless's "nonroot" user; numeric so that Kubernetes can check
# runAsNonRoot without resolving names.
USER 65532:65532
ENV ORDERPROCESSOR_ADDR=:8080 \
    ORDERPROCESSOR_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/orderprocessor","serve"]
