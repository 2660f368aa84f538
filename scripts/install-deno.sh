#!/usr/bin/env bash
# Installs the pinned Deno from the npm registry into a cache folder outside the repo and
# prints the path of the deno binary. Idempotent: a second call only prints the path.
set -euo pipefail

DENO_VERSION="${SNAPCRON_DENO_VERSION:-2.9.6}"
cache="${SNAPCRON_CACHE:-$HOME/.cache/snapcron}/deno/$DENO_VERSION"

case "$(uname -m)" in
  x86_64 | amd64) pkg="@deno/linux-x64-glibc" ;;
  aarch64 | arm64) pkg="@deno/linux-arm64-glibc" ;;
  *) echo "install-deno: unsupported machine \"$(uname -m)\": install Deno $DENO_VERSION by hand and put it on PATH" >&2; exit 2 ;;
esac
bin="$cache/node_modules/$pkg/deno"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
  echo "$bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-deno: npm is needed to fetch Deno $DENO_VERSION from the npm registry: install Node.js (apt-get install nodejs npm)" >&2
  exit 2
fi

mkdir -p "$cache"
# The platform package carries the binary itself; the wrapper package "deno" only adds a
# postinstall step that picks it, so skip scripts and take the platform package directly.
npm install --prefix "$cache" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
  "$pkg@$DENO_VERSION" >&2
chmod +x "$bin"
"$bin" --version >/dev/null
echo "$bin"
