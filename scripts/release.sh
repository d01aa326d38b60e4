#!/usr/bin/env bash
# Builds a Hera release into dist/, offline (nothing is pulled from or pushed
# to a registry), for the version in the VERSION file:
#   dist/hera-<VERSION>.oci.tar   the image for linux/amd64 and linux/arm64 as
#                                 one OCI archive, whose index is a manifest
#                                 list named IMAGE:VERSION
#   dist/hera-<chart version>.tgz the Helm chart (deploy/helm/hera), which
#                                 deploys IMAGE:VERSION by default
#   dist/SHA256SUMS               their checksums (sha256sum -c SHA256SUMS)
# docs/releasing.md says how to cut and publish a release.
#   scripts/release.sh
# Settings (environment):
#   IMAGE              where the release is published, default
#                      ghcr.io/heraproject/hera: the chart's image.repository
#                      must be the same
#   DIST               output directory, default dist
#   OUT                work directory of the image build, default bin/release
#   SOURCE_DATE_EPOCH  as scripts/image.sh (default: the last commit's time)
#   HELM               the helm binary, default bin/helm-v3.22.0/helm (built
#                      from the Go module proxy the first time, as the chart
#                      test does)
# Needs podman (as root the script installs Debian's package).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-ghcr.io/heraproject/hera}
DIST=${DIST:-dist}
OUT=${OUT:-bin/release}
ARCHES="amd64 arm64"
chart=deploy/helm/hera

fail() {
  echo "release: $*" >&2
  exit 1
}

VERSION=$(<VERSION)
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  fail "VERSION is \"$VERSION\": want a semantic version without v, e.g. 0.2.0"

# One version everywhere: the chart deploys this release, from where it is
# published, and the changelog says what it is.
chart_field() { sed -n "s/^$1: *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p" "$chart/Chart.yaml"; }
app_version=$(chart_field appVersion)
chart_version=$(chart_field version)
[[ $app_version == "$VERSION" ]] ||
  fail "$chart/Chart.yaml has appVersion \"$app_version\", VERSION is $VERSION: set appVersion: \"$VERSION\" and bump the chart's version"
repository=$(sed -n '/^image:/,/^[^ ]/s/^  repository: *//p' "$chart/values.yaml")
[[ $repository == "$IMAGE" ]] ||
  fail "$chart/values.yaml's image.repository is $repository, the release is published as $IMAGE: make them the same"
grep -q "^## \[$VERSION\]" CHANGELOG.md ||
  fail "CHANGELOG.md has no \"## [$VERSION]\" section"
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then
  echo "release: warning: the working tree has uncommitted changes; the image's revision label names HEAD" >&2
fi

if ! command -v podman >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing podman ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
  else
    fail "podman is needed (apt-get install podman)"
  fi
fi

helm_version=v3.22.0
helm_kube_minor=37
if [[ -z ${HELM:-} ]]; then
  HELM=$PWD/bin/helm-$helm_version/helm
  if [[ $("$HELM" version --template '{{.Version}}' 2>/dev/null) != "$helm_version" ]]; then
    # As deploy/chart_test.go builds it: stamped with its version and the
    # Kubernetes release of its client-go.
    echo "building helm $helm_version (first time: a few minutes) ..." >&2
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_kube_minor"
    done
    tmp=$(mktemp -d)
    (cd "$tmp" && GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$helm_version")
    mkdir -p "$(dirname "$HELM")"
    mv "$tmp/helm" "$HELM"
    rm -rf "$tmp"
  fi
fi
helm_home=$(mktemp -d)
export HELM_CACHE_HOME=$helm_home HELM_CONFIG_HOME=$helm_home HELM_DATA_HOME=$helm_home

# The images are built under a name of this run's own and removed at the
# end: the archive is the release, and local images of the same name stay
# as they were.
work=localhost/hera-release-$$
list=$work-list:$VERSION
cleanup() {
  podman manifest rm "$list" >/dev/null 2>&1 || true
  for arch in $ARCHES; do
    podman rmi -f "$work:$VERSION-$arch" >/dev/null 2>&1 || true
  done
  podman rmi -f "$work:$VERSION" >/dev/null 2>&1 || true
  rm -rf "$helm_home"
}
trap cleanup EXIT

IMAGE=$work VERSION=$VERSION ARCHES=$ARCHES OUT=$OUT CONTAINER_RUNTIME=podman scripts/image.sh

mkdir -p "$DIST"
archive=hera-$VERSION.oci.tar
package=hera-$chart_version.tgz
rm -f "$DIST/$archive" "$DIST/$package" "$DIST/SHA256SUMS"

# One archive for both architectures: a manifest list (an OCI image index
# in the archive) named IMAGE:VERSION. podman 4.3 writes it offline.
podman manifest create "$list" >/dev/null
for arch in $ARCHES; do
  podman manifest add "$list" "containers-storage:$work:$VERSION-$arch" >/dev/null
done
podman manifest push --all --quiet "$list" "oci-archive:$DIST/$archive:$IMAGE:$VERSION"

"$HELM" lint --strict "$chart" >/dev/null
"$HELM" package "$chart" -d "$DIST" >/dev/null
[[ -f $DIST/$package ]] || fail "helm package did not write $DIST/$package"

(cd "$DIST" && sha256sum "$archive" "$package" >SHA256SUMS)
echo "Hera $VERSION: $IMAGE:$VERSION (linux/amd64, linux/arm64), chart $chart_version" >&2
(cd "$DIST" && ls -l "$archive" "$package" SHA256SUMS)
