#!/usr/bin/env bash
# Builds the pinned Kratos and Hydra (tools/kratos, tools/hydra) into bin/.
# A binary is rebuilt only when it is missing or its module files changed:
# bin/<name>.stamp holds the hash of the go.mod and go.sum it was built from.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin

build() {
  local name=$1 pkg=$2
  local stamp=bin/$name.stamp
  local want
  want=$( (go version; cat "tools/$name/go.mod" "tools/$name/go.sum") | sha256sum | cut -d' ' -f1)
  if [[ -x bin/$name && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  echo "building $name (first time: a few minutes) ..." >&2
  local start=$SECONDS
  (cd "tools/$name" && CGO_ENABLED=1 go build -tags sqlite -o "../../bin/$name.tmp" "$pkg")
  mv "bin/$name.tmp" "bin/$name"
  echo "$want" >"$stamp"
  echo "built bin/$name in $((SECONDS - start))s" >&2
}

build kratos github.com/ory/kratos
build hydra github.com/ory/hydra/v2
