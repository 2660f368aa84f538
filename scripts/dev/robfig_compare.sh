#!/usr/bin/env bash
# Compares the next 20 run times of the expressions in robfig_compare/expressions.txt between
# robfig/cron v3 (Debian's golang-github-robfig-cron-dev) and src/schedule, and prints any
# mismatch. Installs golang-go and the robfig package with apt-get if missing (needs root).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="$here/robfig_compare"
count=20

if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/robfig/cron ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y golang-go golang-github-robfig-cron-dev
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Debian installs Go libraries as a GOPATH tree, not as modules.
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/go-cache" \
  go build -o "$work/robfig_next" "$dir/main.go"

status=0
# Plain dates, then the eves of the 2026 DST changes in Berlin and New York.
for from in 2026-01-01T00:00:00Z 2026-02-27T23:59:58Z 2026-03-28T12:34:56Z \
  2026-03-29T00:58:30Z 2026-10-25T00:15:00Z 2026-03-08T06:58:30Z 2026-11-01T04:45:00Z; do
  TZ=UTC "$work/robfig_next" "$from" "$count" <"$dir/expressions.txt" >"$work/robfig.tsv"
  deno run --allow-read="$dir,$work" "$dir/compare.ts" \
    "$dir/expressions.txt" "$work/robfig.tsv" "$from" "$count" || status=1
done
exit "$status"
