#!/usr/bin/env bash
# Installs the tools some tests drive, when they are missing: promtool (Debian "prometheus",
# checks the /metrics exposition), Chromium (Debian "chromium", renders the dashboard) and
# stunnel4 (a TLS proxy requiring client certificates in front of the Elasticsearch test node).
# Needs root or sudo for apt-get; without either it says what is missing and stops, and the
# tests that need the tools are reported as ignored (under CI=true they fail).
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v stunnel4 >/dev/null 2>&1 || missing+=(stunnel4)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-test-tools: missing ${missing[*]}: install them with apt-get as root" >&2
    exit 1
  fi
fi
echo "install-test-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian's prometheus package may start a server where services can start; tests need only promtool.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl disable --now prometheus >&2 || true
fi
