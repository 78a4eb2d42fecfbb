# gofpm with php-cgi workers (Debian's php8.2-cgi): php-fpm's process
# model for a PHP application, in one image. The build context is the
# repository root:
#   docker build -f deploy/container/Containerfile.php --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" -t gofpm-php:dev .
#   docker run --rm -p 8080:8080 -p 9000:9000 -v "$PWD/app:/srv/www:ro" gofpm-php:dev
# (podman: the same, with --ignorefile deploy/container/Containerfile.php.dockerignore)
# Stop, health check, logs, your own code: docs/containers.md.

# Build stage: the Makefile's go build of gofpm, without cgo.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY *.go ./
COPY fcgi/ fcgi/
COPY fpm/ fpm/
COPY worker/ worker/
ARG VERSION=dev
ENV CGO_ENABLED=0
RUN go build -ldflags "-X main.version=${VERSION}" -o bin/gofpm .

# Run stage: Debian's php-cgi, the same base as the Go image.
FROM debian:bookworm-slim
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="gofpm-php" \
      org.opencontainers.image.description="gofpm, a FastCGI process manager in the style of php-fpm, with php-cgi 8.2 workers" \
      org.opencontainers.image.source="https://github.com/gofpm/gofpm" \
      org.opencontainers.image.url="https://github.com/gofpm/gofpm" \
      org.opencontainers.image.documentation="https://github.com/gofpm/gofpm/blob/main/docs/containers.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# php8.2-cgi only (no recommends: no Apache module, no extra SAPI); the
# package lists are dropped again. /run/gofpm for Unix sockets, owned by
# the image's numeric user (Kubernetes' runAsNonRoot can only verify a
# number).
RUN apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends php8.2-cgi && \
    rm -rf /var/lib/apt/lists/* && \
    install -d -o 10001 -g 10001 -m 0755 /run/gofpm
COPY --from=build /src/bin/gofpm /usr/local/bin/gofpm
COPY deploy/container/php/pool.toml /etc/gofpm/pool.toml
COPY deploy/container/php/index.php /srv/www/index.php
WORKDIR /srv/www
USER 10001:10001
# 8080: the HTTP front; 9000: FastCGI for an nginx elsewhere.
EXPOSE 8080 9000
# SIGQUIT is gofpm's graceful stop: requests in flight finish, for at most
# process_control_timeout (8s in pool.toml), below docker stop's default
# 10 s. The pool gives php-cgi SIGTERM to finish its request
# (worker_graceful_signal).
STOPSIGNAL SIGQUIT
# The master answers the ping page on pm_status_listen itself (php-cgi
# would look for a /ping script): unhealthy when the master is.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/gofpm", "ping", "-s", "unix:/run/gofpm/status.sock", "--path", "/ping", "--timeout", "3s"]
ENTRYPOINT ["/usr/local/bin/gofpm"]
CMD ["run", "-c", "/etc/gofpm/pool.toml"]
