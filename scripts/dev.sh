#!/usr/bin/env bash
# Starts Hera's dev stack: real Kratos + Hydra on SQLite and Hera, on loopback.
# Any Hera setting can be given in the environment, e.g.
#   HERA_LOG_LEVEL=debug scripts/dev.sh
# Flags go to cmd/devstack, e.g. scripts/dev.sh -social (social sign-in with
# an upstream OpenID Connect provider of test users).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-ory.sh
go build -o bin/hera ./cmd/hera
go build -o bin/devstack ./cmd/devstack
exec bin/devstack -bin bin -state .dev "$@"
