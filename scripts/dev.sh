#!/usr/bin/env bash
# Starts Hera's dev stack: real Kratos + Hydra on SQLite and Hera, on loopback.
# Any Hera setting can be given in the environment, e.g.
#   HERA_LOG_LEVEL=debug scripts/dev.sh
# Flags go to cmd/devstack, e.g. scripts/dev.sh -social (social sign-in with
# an upstream OpenID Connect provider of test users).
# On a fresh Debian machine (as root) it first installs what building Kratos
# needs, as scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."

# Kratos is built with cgo (SQLite): gcc and the C library's headers.
# Installed only when missing.
packages=(gcc libc6-dev)
if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
      exit 1
    fi
    echo "installing ${missing[*]} ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
elif ! command -v gcc >/dev/null; then
  echo "gcc is needed to build Kratos (cgo): install a C compiler" >&2
  exit 1
fi

scripts/build-ory.sh
# A dev build says which release it leads to: <VERSION>-dev.
go build -ldflags "-X main.version=$(<VERSION)-dev" -o bin/hera ./cmd/hera
go build -o bin/devstack ./cmd/devstack
exec bin/devstack -bin bin -state .dev "$@"
