#!/usr/bin/env bash
# Builds the pinned Kratos and Hydra (tools/kratos, tools/hydra) into bin/,
# and bin/kratosform, the differential tests' oracle of how Kratos reads
# identifiers.
# A binary is rebuilt only when it is missing or its module files changed:
# bin/<name>.stamp holds the hash of the go.mod and go.sum it was built from.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin

# build <module under tools/> <binary> <package> [ldflags]
build() {
  local module=$1 name=$2 pkg=$3 ldflags=${4:-}
  local stamp=bin/$name.stamp
  local want
  want=$( (go version; echo "$pkg $ldflags"; cat "tools/$module/go.mod" "tools/$module/go.sum"
    if [[ $pkg == ./* ]]; then cat "tools/$module/$pkg"/*.go; fi) | sha256sum | cut -d' ' -f1)
  if [[ -x bin/$name && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  echo "building $name (first time: a few minutes) ..." >&2
  local start=$SECONDS
  (cd "tools/$module" && CGO_ENABLED=1 go build -tags sqlite -ldflags "$ldflags" -o "../../bin/$name.tmp" "$pkg")
  mv "bin/$name.tmp" "bin/$name"
  echo "$want" >"$stamp"
  echo "built bin/$name in $((SECONDS - start))s" >&2
}

# Stamped like Ory's own release builds, so /version (and hera doctor's
# version check) names the release.
kratos_version=$(cd tools/kratos && go list -m -f '{{.Version}}' github.com/ory/kratos)
build kratos kratos github.com/ory/kratos "-X github.com/ory/kratos/driver/config.Version=$kratos_version"
# Kratos's own reading of identifiers and addresses, for the differential
# tests (tools/kratos/kratosform).
build kratos kratosform ./kratosform
build hydra hydra github.com/ory/hydra/v2
