#!/usr/bin/env bash
# The test command of the README and of CI: installs the pinned Deno when it is missing, starts
# the real test servers (etcd, s3proxy, Elasticsearch, OpenSearch) on 127.0.0.1, runs `deno task test` and
# ends with one line "tests: N passed, N failed". Extra arguments go to `deno test`
# (e.g. a file or --filter). SNAPCRON_SERVICES=none runs without servers (their tests are
# reported as ignored, or fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

deno_bin=$(scripts/install-deno.sh)
export PATH="$(dirname "$deno_bin"):$PATH"

if [ "${CI:-}" = true ]; then
  scripts/install-test-tools.sh
else
  scripts/install-test-tools.sh || echo "test.sh: continuing without them" >&2
fi

services=${SNAPCRON_SERVICES:-all}
if [ "$services" != none ]; then
  if [ "$services" = all ]; then
    scripts/services.sh up
  else
    # shellcheck disable=SC2086 # a list of service names
    scripts/services.sh up $services
  fi
  eval "$(scripts/services.sh env)"
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT
set +e
NO_COLOR=1 deno task test "$@" 2>&1 | tee "$report"
status=${PIPESTATUS[0]}
set -e

# deno test ends with e.g. "ok | 61 passed (4 steps) | 0 failed | 2 ignored (3s)".
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$report" | tail -n 1 || true)
if [ -z "$summary" ]; then
  echo "test.sh: deno test printed no summary (it crashed or found no tests)" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi
passed=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary")
if [ "$passed" -eq 0 ]; then
  echo "test.sh: no test passed" >&2
  status=1
fi
echo "tests: $passed passed, $failed failed"
exit "$status"
