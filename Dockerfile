# First version: the "Packaging" issue finishes it (tini, scratch target, health check).
# Build stage: compiles the single binary. `deno compile` needs "denort"; it downloads it, so the
# build needs the internet, or a denort of the pinned Deno version passed in as DENORT_BIN.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG DENORT_BIN=
ENV SNAPCRON_COMPILE_ONLINE=1
RUN scripts/compile.sh

# Final stage: distroless with glibc (the compiled binary needs it), as a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/snapcron /usr/local/bin/snapcron
EXPOSE 18080
USER nonroot
ENTRYPOINT ["/usr/local/bin/snapcron"]
CMD ["run", "--config", "/etc/snapcron/snapcron.yaml"]
