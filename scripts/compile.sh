#!/usr/bin/env bash
# Builds dist/snapcron with `deno compile`. deno compile needs "denort", the runtime it embeds
# the program into; it normally downloads it, which needs the internet. Set DENORT_BIN to a
# denort binary of the same Deno version (release asset denort-<target>.zip) for offline builds.
set -euo pipefail
cd "$(dirname "$0")/.."
deno_bin=$(scripts/install-deno.sh)
version=$("$deno_bin" --version | head -n 1 | cut -d' ' -f2)

if [ -n "${DENORT_BIN:-}" ] && [ ! -x "$DENORT_BIN" ]; then
  echo "compile: DENORT_BIN=\"$DENORT_BIN\" is not an executable file: point it at denort $version" >&2
  exit 2
fi
if [ -z "${DENORT_BIN:-}" ] && [ "${SNAPCRON_COMPILE_ONLINE:-}" != 1 ]; then
  cat >&2 <<TXT
compile: no Deno runtime for compiling: deno compile embeds snapcron into "denort" $version,
which it downloads unless DENORT_BIN names one. Either
  - set DENORT_BIN=/path/to/denort (unzipped from the denort-$(uname -m)-unknown-linux-gnu.zip
    asset of the Deno v$version release), or
  - on a machine with internet access, set SNAPCRON_COMPILE_ONLINE=1 to let deno download it.
TXT
  exit 2
fi

mkdir -p dist
# The narrowest set that serves every job kind: network for status, S3, ES and etcd; env for
# ${VAR} in configs; read/write for configs, local storage and state; run for command jobs;
# sys for the host name in metrics.
"$deno_bin" compile \
  --allow-net --allow-env --allow-read --allow-write --allow-run --allow-sys=hostname,osRelease \
  --include src/storage/s3.ts \
  --output dist/snapcron "$@" main.ts
ls -l dist/snapcron
