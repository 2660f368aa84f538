#!/usr/bin/env bash
# Runs the pinned Deno (installing it first when missing) with the given arguments, so every
# `deno task …` works on a machine without Deno: scripts/deno.sh task start
set -euo pipefail
cd "$(dirname "$0")/.."
deno_bin=$(scripts/install-deno.sh)
exec "$deno_bin" "$@"
