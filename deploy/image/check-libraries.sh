#!/bin/bash
# Run at image build: every shipped binary, plugin and DPDK driver resolves all of its
# shared libraries inside the image.
set -euo pipefail
shopt -s nullglob
files=(/usr/lib/vhostd/vhostd /usr/lib/vhostd/plugins/*.so /usr/bin/vhostctl /usr/bin/vhostd-health
       /usr/lib/vhostd/cni/* /usr/lib/x86_64-linux-gnu/dpdk/pmds-*/*)
bad=0
for f in "${files[@]}"; do
  if missing=$(ldd "$f" 2>&1 | grep 'not found'); then
    echo "check-libraries: $f: $missing" >&2
    bad=1
  fi
done
[ "$bad" -eq 0 ] && echo "check-libraries: ${#files[@]} files, every shared library found"
exit "$bad"
