# syntax=docker/dockerfile:1
# snapcron images. Not built on the development machines (they have no Docker engine): the
# README says what was checked and what was not.
#
#   docker build -t snapcron .                      # distroless/cc, non-root, tini as PID 1
#   docker build --target scratch -t snapcron:scratch .   # only the binary and its libraries
#
# The build stage compiles with `deno compile`, which downloads "denort" (the runtime it embeds
# the program into): the build needs the internet, or DENORT_BIN pointing at a denort of the
# pinned Deno version inside the build context.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates nodejs npm tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG DENORT_BIN=
ENV SNAPCRON_COMPILE_ONLINE=1
# The V8 flags of the `snapcron` task (deno.json), built into the binary: a 1 MiB young
# generation lowers the peaks of backups, and gc() lets an upload collect every 128 MiB so its
# peak does not grow with the object (README "Memory"; tests/runtime_flags_test.ts keeps them equal).
RUN scripts/compile.sh --v8-flags=--max-semi-space-size=1,--expose-gc
# The libraries the binary loads, at their own paths, for the scratch image.
RUN mkdir -p /rootfs/tmp && chmod 1777 /rootfs/tmp \
 && for lib in $(ldd dist/snapcron | grep -o '/[^ ]*'); do \
      mkdir -p "/rootfs$(dirname "$lib")" && cp -L "$lib" "/rootfs$lib"; \
    done \
 && mkdir -p /rootfs/etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && echo "snapcron:x:65532:65532::/tmp:/sbin/nologin" > /rootfs/etc/passwd

# Default image: distroless with glibc, non-root, tini reaps the children of command jobs.
FROM gcr.io/distroless/cc-debian12:nonroot AS distroless
COPY --from=build /usr/bin/tini-static /usr/local/bin/tini
# coreutils' timeout(1) (needs only glibc): command jobs start under it as their process group's
# leader, which spares a fork of the whole daemon per run (README, "Configuration").
COPY --from=build /usr/bin/timeout /usr/bin/timeout
COPY --from=build /src/dist/snapcron /usr/local/bin/snapcron
USER nonroot
EXPOSE 18080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["/usr/local/bin/snapcron", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tini", "--", "/usr/local/bin/snapcron"]
CMD ["run", "--config", "/etc/snapcron/snapcron.yaml"]

# Smallest image: nothing but the binary, its libraries and CA certificates. Command jobs can
# only run programs you add; Elasticsearch, etcd and S3 jobs need nothing else.
FROM scratch AS scratch
COPY --from=build /rootfs/ /
COPY --from=build /usr/bin/tini-static /tini
COPY --from=build /src/dist/snapcron /snapcron
USER 65532:65532
EXPOSE 18080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/snapcron", "healthcheck"]
ENTRYPOINT ["/tini", "--", "/snapcron"]
CMD ["run", "--config", "/etc/snapcron/snapcron.yaml"]

FROM distroless
