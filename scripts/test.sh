#!/usr/bin/env bash
# Runs every Hera test. On a fresh Debian machine (as root) it first installs
# what the tests need, then builds the pinned Kratos and Hydra into bin/.
#   scripts/test.sh            everything
#   scripts/test.sh ./internal/config/...   just some packages (after set-up)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

# Debian packages the tests need; installed only when missing.
packages=(gcc libc6-dev postgresql redis-server chromium nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm may come with a nodejs package from elsewhere; install Debian's only if absent.
command -v npm >/dev/null || missing+=(nodejs npm)
# The image test (deploy/image_test.go) builds with podman, or docker if a
# daemon runs; runc lets podman run containers where crun refuses hybrid
# cgroups (as on CI's VMs).
if ! { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
  for p in podman runc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing ${missing[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

scripts/build-ory.sh

# Front-end test tools (axe-core for the browser suite, Ory's SDK for
# cmd/hera's SDK test), pinned by e2e/package-lock.json: installed when
# missing, and again when the lock file is newer than what npm last
# installed (node_modules/.package-lock.json), so that a dependency added
# since reaches machines that ran the tests before.
if [[ -f e2e/package-lock.json && ( ! -f e2e/node_modules/.package-lock.json ||
  e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ) ]]; then
  npm ci --prefix e2e --no-audit --no-fund --loglevel=error
fi

echo "== templ generate"
# The pages' generated Go (internal/web/view/*_templ.go) is committed: it
# must be what the pinned templ makes of the .templ files.
gen=$(mktemp -d)
cp internal/web/view/*_templ.go "$gen"/ 2>/dev/null || true
go tool templ generate -path internal/web/view >/dev/null 2>&1
for f in internal/web/view/*_templ.go; do
  if ! cmp -s "$f" "$gen/$(basename "$f")"; then
    echo "$f was stale: run go tool templ generate -path internal/web/view and commit the result" >&2
    exit 1
  fi
done
rm -rf "$gen"

echo "== gofmt"
unformatted=$(find . -name '*.go' -not -path './e2e/node_modules/*' -print0 | xargs -0 gofmt -l 2>&1 || true)
if [[ -n $unformatted ]]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
# Tests that need real servers carry the integration build tag in the
# packages they test (the stores on PostgreSQL and Redis, Hydra, the
# doctor); everything here runs with it.
go vet -tags integration ./...

# Static analysis and known vulnerabilities, with tools pinned on the Go
# module proxy. govulncheck reads a vulnerability database built offline
# from the pinned golang.org/x/vulndb module (vuln.go.dev is not needed);
# bump vulndb_version to see newer advisories.
staticcheck_version=v0.8.2
govulncheck_version=v1.9.0
vulndb_version=v0.0.0-20261105234957-e22db6528018
echo "== staticcheck"
go run "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" -tags integration ./...
echo "== govulncheck"
vulndb=$PWD/bin/vulndb
if [[ ! -f $vulndb/index/db.json || $(cat "$vulndb.stamp" 2>/dev/null) != "$vulndb_version" ]]; then
  go mod download "golang.org/x/vulndb@$vulndb_version"
  rm -rf "$vulndb"
  go run "golang.org/x/vulndb/cmd/indexdb@$vulndb_version" \
    -vulns "$(go env GOMODCACHE)/golang.org/x/vulndb@$vulndb_version/data/osv" -out "$vulndb"
  echo "$vulndb_version" >"$vulndb.stamp"
fi
go run "golang.org/x/vuln/cmd/govulncheck@$govulncheck_version" -db "file://$vulndb" -format json ./... | go run ./scripts/vulngate

echo "== keys against Kratos's own reading, all of Unicode"
# The race run below scans a bounded slice (the race detector slows it
# tenfold); this scans every code point through Kratos's own code
# (bin/kratosform) and Hera's key functions, and prints how many disagree.
if ! go test -count=1 -run '^TestKeysFollowKratosOverUnicode$' -v ./cmd/hera | grep -E 'keyscan:|^(--- |ok|FAIL)'; then
  echo "the full-Unicode key scan failed" >&2
  exit 1
fi

echo "== go test"
pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./...)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
go test -race -count=1 -timeout 30m -tags integration -v "${pkgs[@]}" >"$log" 2>&1
status=$?
set -e
# Per-test results (not every log line) and the package summaries.
grep -E '^\s*--- (PASS|FAIL|SKIP)|^(ok|FAIL|panic:)|^\s+\S+\.go:[0-9]+:' "$log" || true
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
if ((status != 0)) && ((failed == 0)); then
  # A build failure or panic: show the whole log.
  cat "$log"
  failed=1
fi
if [[ ${CI:-} == true ]] && ((skipped > 0)); then
  echo "CI runs every test: $skipped skipped" >&2
  status=1
fi
echo "tests took $((SECONDS - start))s in all"
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
