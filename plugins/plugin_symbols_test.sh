#!/bin/bash
# Checks how the daemon and its plugins share code: each plugin's dynamic symbol table
# defines only the entry point, the shared dataplane code is undefined in plugins and
# defined (exported) by the daemon, no plugin carries a copy of DPDK or of the daemon's
# state, and no plugin touches the daemon's API (no vhostd.v1 message, no gRPC): its
# own messages are all it speaks. Usage: plugin_symbols_test.sh DAEMON PLUGIN...
set -euo pipefail
daemon=$1; shift
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

daemon_defined=$(nm -D --defined-only "$daemon" | awk '{print $3}')
for plugin in "$@"; do
  name=$(basename "$plugin")
  exported=$(nm -D --defined-only "$plugin" | awk '{print $3}' | grep -v '^_init$\|^_fini$' || true)
  [ "$exported" = vhostd_plugin_entry ] || bad "$name exports more than its entry point: $(echo $exported)"
  # Whatever the plugin needs from the vhostd namespace must come from the daemon.
  for sym in $(nm -D --undefined-only "$plugin" | awk '{print $2}' | grep '^_ZN6vhostd\|^_ZNK6vhostd\|^_ZTVN6vhostd' || true); do
    grep -qxF "$sym" <<<"$daemon_defined" || bad "$name needs $sym, which the daemon does not export"
  done
  # The retired-pool list lives in port_pool.cc: only the daemon may contain it.
  if nm -C "$plugin" | grep -q ' [TtDdBb] .*vhostd::.*RetiredList'; then bad "$name has its own copy of port_pool.cc"; fi
  # DPDK is the system's shared libraries, never linked in.
  if nm "$plugin" | grep -q ' [Tt] rte_eal_init$'; then bad "$name contains DPDK's EAL"; fi
  # The API is the daemon's business: a plugin neither uses its messages nor links gRPC.
  if nm -D --undefined-only "$plugin" | grep -q '_ZN6vhostd2v1\|_ZNK6vhostd2v1'; then bad "$name uses vhostd.v1 API messages"; fi
  if readelf -d "$plugin" | grep NEEDED | grep -qi 'grpc'; then bad "$name links gRPC: $(readelf -d "$plugin" | grep NEEDED | grep -i grpc)"; fi
  echo "ok: $name exports only vhostd_plugin_entry; $(nm -D --undefined-only "$plugin" | grep -c 'vhostd' || true) vhostd symbols from the daemon"
done
grep -q 'ReleasePortPool' <<<"$daemon_defined" || bad "the daemon does not export ReleasePortPool"
exit $fail
