#!/usr/bin/env bash
# Builds the agent image with podman where no registry is reachable: the
# Debian bookworm base comes from Debian's own packages (debootstrap into
# build/image-root, imported as localhost/zs-debian:bookworm), then
# deploy/Dockerfile builds on it.
#   deploy/build-image.sh [TAG]        default TAG: localhost/zerospan:dev
# Needs root, podman and debootstrap (scripts/deps.sh test installs them) and,
# on hosts with a hybrid cgroup layout, scripts/container-host.sh first.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-localhost/zerospan:dev}
base=localhost/zs-debian:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# crun sets the image's default RLIMIT_NOFILE/NPROC; without CAP_SYS_RESOURCE
# it may not raise them, so build steps get limits below the caller's.
limits=(--ulimit "nofile=1024:1024" --ulimit "nproc=1024:1024")

if ! podman image exists "$base"; then
  root=$here/build/image-root
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$here/build/debootstrap.log" 2>&1 ||
    { tail -20 "$here/build/debootstrap.log" >&2; exit 1; }
  # the downloaded .debs and package lists are not part of an image
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*
  tar -C "$root" -c . | podman import -q - "$base" >/dev/null
  rm -rf "$root"
fi
podman build -q "${limits[@]}" --build-arg BASE="$base" -t "$tag" -f "$here/deploy/Dockerfile" "$here"
# The build stage stays as podman's layer cache (its toolchain layer is ~1 GB, shared by
# rebuilds); `podman image prune --filter label=org.zerospan.stage=build` reclaims it.
