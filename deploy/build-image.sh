#!/usr/bin/env bash
# Builds the vhostd container image without a network registry:
#   1. a Debian 12 base with the runtime packages of deploy/image/packages.txt, made with
#      debootstrap from Debian's archive (or imported from a root filesystem tarball,
#      --base-tarball), cached as a tarball under $VHOSTD_IMAGE_CACHE (/var/tmp/vhostd-image)
#      and as the podman image localhost/vhostd-base:<hash of the package list>;
#   2. `podman build` of deploy/image/Containerfile on that base, with the binaries Bazel
#      built: the daemon, its plugins, vhostctl, vhostd-health and vhostd-cni.
#
# usage: deploy/build-image.sh [--testpmd] [--tag IMAGE] [--artifacts DIR] [--base-tarball FILE] [--mirror URL]
#   --testpmd       build the example DPDK application image instead (Debian's testpmd on its
#                   own base, deploy/image/testpmd-packages.txt; default tag
#                   localhost/vhostd-testpmd:dev), for examples/dpdk-testpmd-pod.yaml
#   --tag           image name (default localhost/vhostd:dev)
#   --artifacts     a tree holding server/vhostd, server/plugins/*.so, client/vhostctl,
#                   deploy/probe/vhostd-health and client/vhostd-cni, as bazel-bin or a
#                   test's runfiles do; default: `bazel build` them and use bazel-bin
#   --base-tarball  a root filesystem tarball to import as the base instead of debootstrap
#                   (it must hold the packages of packages.txt)
#   --mirror        Debian archive for debootstrap (default: the first one apt uses here)
# Needs root, podman (with runc) and debootstrap (deploy/install-deps.sh installs them).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
tag=""
variant=vhostd
artifacts=""
base_tarball=""
mirror=""
suite=bookworm
cache=${VHOSTD_IMAGE_CACHE:-/var/tmp/vhostd-image}

die() { echo "build-image: $*" >&2; exit 1; }
log() { echo "build-image: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --testpmd) variant=testpmd; shift ;;
    --tag) tag=${2:?--tag: needs a value}; shift 2 ;;
    --artifacts) artifacts=${2:?--artifacts: needs a directory}; shift 2 ;;
    --base-tarball) base_tarball=${2:?--base-tarball: needs a file}; shift 2 ;;
    --mirror) mirror=${2:?--mirror: needs a URL}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, rootful podman)"
if [ "$variant" = testpmd ]; then
  [ -z "$artifacts" ] || die "--artifacts: the testpmd image takes no vhostd binaries"
  packages_file="$here/image/testpmd-packages.txt"
  containerfile=testpmd.Containerfile
  tag=${tag:-localhost/vhostd-testpmd:dev}
else
  packages_file="$here/image/packages.txt"
  containerfile=Containerfile
  tag=${tag:-localhost/vhostd:dev}
fi
command -v podman >/dev/null || die "podman is missing (deploy/install-deps.sh installs it)"

# Podman on hosts with hybrid cgroups: crun refuses them, runc works; runc cannot raise
# these limits in a container whose parent lowered them.
podman_flags=(--runtime=runc)
build_flags=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network=none --pull=never)

runtime_packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$packages_file"; }

apt_mirror() {
  [ -n "$mirror" ] && { echo "$mirror"; return; }
  local found
  found=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v -- '-security' | grep -m1 -oE 'https?://[^ ]+/debian/?' || true)
  echo "${found:-http://deb.debian.org/debian}"
}

# The base image's name: a hash of what goes into it.
base_name() {
  local key
  if [ -n "$base_tarball" ]; then
    key=$(sha256sum <"$base_tarball" | cut -c1-12)
  else
    key=$( (echo "$suite"; dpkg --print-architecture; runtime_packages) | sha256sum | cut -c1-12)
  fi
  echo "localhost/vhostd-base:$key"
}

debootstrap_tarball() {
  local out=$1 rootfs
  command -v debootstrap >/dev/null || die "debootstrap is missing (deploy/install-deps.sh installs it)"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  local packages
  packages=$(runtime_packages | paste -sd, -)
  log "debootstrap $suite from $(apt_mirror) with $packages (a few minutes, once)"
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$(apt_mirror)" \
      >"$cache/debootstrap.log" 2>&1; then
    tail -20 "$cache/debootstrap.log" >&2
    rm -rf "$rootfs"
    die "debootstrap failed (log: $cache/debootstrap.log)"
  fi
  # Package caches and lists are build leftovers, not runtime.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  tar --numeric-owner -C "$rootfs" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$rootfs"
}

ensure_base() {
  local name=$1 tarball
  if podman "${podman_flags[@]}" image exists "$name"; then
    log "base $name is there"
    return
  fi
  if [ -n "$base_tarball" ]; then
    tarball=$base_tarball
  else
    tarball="$cache/base-${name##*:}.tar"
    [ -s "$tarball" ] || debootstrap_tarball "$tarball"
  fi
  log "importing $tarball as $name"
  podman "${podman_flags[@]}" import "$tarball" "$name" >/dev/null
}

build_artifacts() {
  local targets=(//server:vhostd //server:plugin_dir //client:vhostctl //client:vhostd-cni //deploy/probe:vhostd-health)
  (cd "$repo" && bazel build "${targets[@]}" >&2)
  (cd "$repo" && bazel info bazel-bin)
}

# The build context: the Containerfile, its scripts and the binaries.
stage_context() {
  local from=$1 ctx=$2
  cp "$here"/image/Containerfile "$here"/image/*.sh "$ctx/"
  for f in server/vhostd client/vhostctl client/vhostd-cni deploy/probe/vhostd-health; do
    [ -x "$from/$f" ] || die "$from/$f: missing (build it, or pass --artifacts)"
    cp -L "$from/$f" "$ctx/"
  done
  mkdir "$ctx/plugins" "$ctx/cni"
  cp -L "$from"/server/plugins/*.so "$ctx/plugins/" || die "$from/server/plugins: no plugin"
  mv "$ctx/vhostd-cni" "$ctx/cni/"
}

ctx=""
main() {
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock 8  # one build at a time: they share the base cache
  local base from
  base=$(base_name)
  ensure_base "$base"
  ctx=$(mktemp -d "$cache/context.XXXXXX")
  trap '[ -z "$ctx" ] || rm -rf "$ctx"' EXIT
  if [ "$variant" = testpmd ]; then
    cp "$here/image/$containerfile" "$ctx/"
  else
    from=${artifacts:-$(build_artifacts)}
    stage_context "$from" "$ctx"
  fi
  local previous
  previous=$(podman "${podman_flags[@]}" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  log "podman build $tag on $base"
  podman "${podman_flags[@]}" build "${build_flags[@]}" -f "$ctx/$containerfile" --build-arg "BASE=$base" \
    -t "$tag" "$ctx" >&2
  # The image this tag named before is left untagged: remove it unless a container uses it.
  if [ -n "$previous" ] && [ "$previous" != "$(podman "${podman_flags[@]}" image inspect -f '{{.Id}}' "$tag")" ]; then
    podman "${podman_flags[@]}" rmi "$previous" >/dev/null 2>&1 || true
  fi
  log "built $tag"
}

main
