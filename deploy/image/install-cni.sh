#!/bin/bash
# vhostd-install-cni BIN_DIR [CONF_DIR NETWORKS_DIR]: the DaemonSet's init container.
# Copies vhostd-cni into BIN_DIR (the node's /opt/cni/bin) and each *.conflist of
# NETWORKS_DIR (the vhostd-cni-networks ConfigMap, usually empty) into CONF_DIR (the
# node's /etc/cni/net.d). Every file is replaced atomically: a runtime reading it
# meanwhile sees the old file or the new one, never half of one.
set -euo pipefail
shopt -s nullglob

usage() {
  echo "usage: vhostd-install-cni BIN_DIR [CONF_DIR NETWORKS_DIR] (existing directories)" >&2
  exit 2
}
[ $# -eq 1 ] || [ $# -eq 3 ] || usage
for dir in "$@"; do [ -d "$dir" ] || { echo "vhostd-install-cni: $dir: not a directory" >&2; usage; }; done

tmp=""
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT

# install_file SRC DEST MODE
install_file() {
  tmp="$(dirname "$2")/.$(basename "$2").$$"
  install -m "$3" "$1" "$tmp"
  mv -f "$tmp" "$2"
  tmp=""
  echo "vhostd-install-cni: installed $2"
}

plugin=/usr/lib/vhostd/cni/vhostd-cni
if [ ! -x "$plugin" ]; then
  echo "vhostd-install-cni: this image has no $plugin (built without vhostd-cni; see deploy/build-image.sh)" >&2
  exit 1
fi
install_file "$plugin" "$1/vhostd-cni" 0755
if [ $# -eq 3 ]; then
  for conf in "$3"/*.conflist; do install_file "$conf" "$2/$(basename "$conf")" 0644; done
fi
