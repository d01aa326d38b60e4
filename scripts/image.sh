#!/usr/bin/env bash
# Builds Hera's container image (deploy/Containerfile): a static ./cmd/hera
# built with this machine's Go for each architecture, copied with Debian's CA
# bundle, a passwd/group naming user 65532, Hera's LICENSE and the licence
# notices of every Go module in the binary (scripts/notices) into a FROM
# scratch image. Nothing is pulled from a registry; podman (or docker)
# builds it offline.
#   scripts/image.sh                      linux/amd64 and linux/arm64
#   ARCHES=amd64 scripts/image.sh         one architecture
# scripts/release.sh builds a release with it.
# Settings (environment):
#   IMAGE              image name, default localhost/hera
#   VERSION            image tag, version label and `hera --version`, default
#                      the VERSION file
#   SOURCE_DATE_EPOCH  time stamped into the image, default the last commit's
#                      time: the same sources, Go and CA bundle give the same
#                      image digest (docs/deploying.md#reproducible-builds)
#   ARCHES             GOARCH values, default "amd64 arm64"
#   OUT                work directory, default bin/image
#   CONTAINER_RUNTIME  podman or docker, default podman if present, else docker
#   IMAGE_SOURCE, IMAGE_LICENSES   the org.opencontainers.image.source and
#                      .licenses labels
# Each architecture is tagged IMAGE:VERSION-ARCH, and IMAGE:VERSION names
# this machine's architecture. scripts/release.sh puts both under one name (a
# manifest list in an OCI archive; docs/releasing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/hera}
ARCHES=${ARCHES:-amd64 arm64}
OUT=${OUT:-bin/image}
IMAGE_SOURCE=${IMAGE_SOURCE:-https://github.com/heraproject/hera}
# Hera's licence (LICENSE), as an SPDX identifier.
IMAGE_LICENSES=${IMAGE_LICENSES:-Apache-2.0}
if [[ -z ${VERSION:-} ]]; then
  VERSION=$(<VERSION)
fi
REVISION=$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

runtime=${CONTAINER_RUNTIME:-}
if [[ -z $runtime ]]; then
  if command -v podman >/dev/null; then
    runtime=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    runtime=docker
  elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing podman ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
    runtime=podman
  else
    echo "neither podman nor a running docker found (as root this script installs podman)" >&2
    exit 1
  fi
fi

ca=/etc/ssl/certs/ca-certificates.crt
if [[ ! -s $ca ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ca-certificates >/dev/null
  else
    echo "$ca is missing: install Debian's ca-certificates" >&2
    exit 1
  fi
fi

# Stamp the version into the binary only where cmd/hera has a variable for
# it; the image's version label carries it regardless.
ldflags="-s -w -buildid="
if grep -Eqs '^[[:space:]]*(var[[:space:]]+)?version([[:space:]]+string)?[[:space:]]*(=|$)' cmd/hera/*.go; then
  ldflags+=" -X main.version=$VERSION"
fi

mkdir -p "$OUT"
# The notices generator, built once for this machine.
go build -o "$OUT/notices" ./scripts/notices
refs=()
for arch in $ARCHES; do
  ctx=$OUT/$arch
  rm -rf "$ctx"
  root=$ctx/rootfs
  mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/usr/share/doc/hera"
  echo "building hera $VERSION for linux/$arch ..." >&2
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "$ldflags" -o "$root/usr/bin/hera" ./cmd/hera
  cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
  # Hera's licence, and those of the Go modules compiled into this binary
  # (as `go version -m` lists them) and of Go itself.
  cp LICENSE "$root/usr/share/doc/hera/LICENSE"
  "$OUT/notices" -main-license LICENSE -o "$root/usr/share/doc/hera/NOTICES" "$root/usr/bin/hera"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$root/etc/group"
  # Fixed modes and times: the layer is a function of the files' contents.
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -type f -exec chmod 0644 {} +
  chmod 0755 "$root/usr/bin/hera"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

  ref=$IMAGE:$VERSION-$arch
  args=(--platform "linux/$arch" -f deploy/Containerfile -t "$ref"
    --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION"
    --build-arg "CREATED=$created" --build-arg "SOURCE=$IMAGE_SOURCE"
    --build-arg "LICENSES=$IMAGE_LICENSES")
  if [[ $runtime == podman ]]; then
    # --timestamp sets the image's creation time and every file's time in
    # its layer; --layers=false makes each build a real rebuild and leaves
    # no intermediate images.
    podman build -q --layers=false --pull=never --timestamp "$SOURCE_DATE_EPOCH" "${args[@]}" "$ctx" >/dev/null
  else
    # BuildKit takes the image's creation time from SOURCE_DATE_EPOCH; the
    # files keep the times set above.
    docker build -q --no-cache --build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" "${args[@]}" "$ctx" >/dev/null
  fi
  refs+=("$ref")
done

host=$(go env GOARCH)
for arch in $ARCHES; do
  if [[ $arch == "$host" ]]; then
    $runtime tag "$IMAGE:$VERSION-$arch" "$IMAGE:$VERSION"
  fi
done
for ref in "${refs[@]}"; do
  echo "$ref $($runtime image inspect --format '{{.Id}}' "$ref")"
done
