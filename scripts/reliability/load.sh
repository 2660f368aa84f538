#!/usr/bin/env bash
# Load while backing up: snapcron runs a job that records its start time every second and, at the
# same time, a job that streams a 1 GiB dump into local storage, while wrk holds 200 connections
# to the status server. Prints the status server's figures and the lateness of each start.
#   scripts/reliability/load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
dir=$(mktemp -d)
port=18590
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/snapcron.yaml" <<YAML
status: { listen: "127.0.0.1:$port" }
storage:
  local: { type: local, path: "$dir/backups" }
jobs:
  tick:
    schedule: "* * * * * *"
    shell: 'date +%s.%N >> $dir/ticks'
  dump:
    schedule: "@yearly"
    run_on_start: true
    shell: 'head -c 1073741824 /dev/zero'
    upload: { storage: local, key: "{job}/{time}.bin.gz", compress: gzip }
YAML
deno run --allow-all main.ts run --config "$dir/snapcron.yaml" 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
wrk -t2 -c200 -d"${seconds}s" --latency "http://127.0.0.1:$port/" | grep -E "Requests/sec|Latency|99%|Non-2xx|Socket errors" || true
{ grep -c "Stored dump" "$dir/log" || true; } | sed "s/^/dumps stored during the run: /"
python3 - "$dir/ticks" <<'PY'
import sys
late = sorted((float(t) % 1) * 1000 for t in open(sys.argv[1]))
pick = lambda q: late[min(len(late) - 1, int(q * len(late)))]
print(f"starts: {len(late)}; lateness ms p50 {pick(0.5):.1f}, p99 {pick(0.99):.1f}, max {late[-1]:.1f}")
PY
