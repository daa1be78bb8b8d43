# Helpers for the in-guest scenario scripts of tests/vm (busybox sh). vmlib.py prepends
# this file to each scenario before handing it to tests/lab/run-guest.sh, so a scenario
# runs with guest-prelude.sh's helpers (lab_ok, lab_fail, lab_info, lab_wait_for,
# in_host_root) and these.
#
# Environment (set by vmlib.py through run-guest.sh -e):
#   VM_ROLE, VM_PEER       this guest's and the other guest's role (a, b)
#   VM_IP, VM_PEER_IP      IPv4 addresses on eth0 (/24)
#   VM_PEER_MAC            the other guest's MAC (checked in the neighbour table)
#   VM_MTU                 eth0 MTU (empty: the driver's default)
#   VM_QUEUES              queue pairs; >1 enables them with ethtool -L
#   VM_ETHTOOL             ethtool argument lists for eth0, separated by ';'
#                          (e.g. "-K eth0 tx off tso off gso off")
#   VM_HOOKS               sync points at which the host runs an action (space separated)
#   VM_WAIT                seconds to wait for the peer at a sync point

# The shared directory: a writable 9p export of one host directory (tag vmshare) that
# both guests and the host see. The host root from run-guest.sh is read-only, so it
# cannot carry the guests' markers. cache=none: each guest must see the other's files
# at once, not a cached directory.
VM_SHARE=/run/vm-share
vm_share_mount() {
  mkdir -p "$VM_SHARE" &&
  mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 vmshare "$VM_SHARE"
}

vm_now() { cut -d' ' -f1 /proc/uptime; }             # seconds, 10 ms resolution
vm_metric() { lab_info "metric $VM_ROLE.$1=$2"; }     # collected by vmlib.py
vm_elapsed() { echo "$2 $1" | awk '{printf "%.2f", $1-$2}'; }   # T0 T1 -> seconds

# Markers: VM_SHARE/ROLE.NAME, written whole (temp file + rename) so that a reader never
# sees a half-written one.
vm_mark() {  # NAME [CONTENT]
  echo "${2:-}" > "$VM_SHARE/.$VM_ROLE.$1.tmp" && mv "$VM_SHARE/.$VM_ROLE.$1.tmp" "$VM_SHARE/$VM_ROLE.$1"
}
vm_peer_has() { [ -e "$VM_SHARE/$VM_PEER.$1" ]; }
vm_peer_read() { cat "$VM_SHARE/$VM_PEER.$1" 2>/dev/null; }
vm_wait_peer() {  # NAME [SECS]
  lab_wait_for "${2:-$VM_WAIT}" vm_peer_has "$1"
}
# Barrier: both guests reached NAME.
vm_sync() {  # NAME [SECS]
  vm_mark "sync.$1"
  vm_wait_peer "sync.$1" "${2:-}" || { lab_fail "sync:$1" "peer $VM_PEER did not arrive"; return 1; }
}
# A point where the host may act (restart the backend, migrate a guest, ...): when NAME
# is in VM_HOOKS, say so and wait until the host wrote VM_SHARE/host.NAME. The host runs
# the action once both guests are there.
vm_hook() {  # NAME [SECS]
  case " ${VM_HOOKS:-} " in *" $1 "*) ;; *) return 0;; esac
  vm_mark "hook.$1"
  lab_wait_for "${2:-$VM_WAIT}" [ -e "$VM_SHARE/host.$1" ] \
    || { lab_fail "hook:$1" "host action did not finish"; return 1; }
  lab_info "hook $1: $(cat "$VM_SHARE/host.$1")"
}

# ethtool: the initramfs has none, so use the host's through the read-only host root
# (same kernel, same netdev: ethtool only talks to the guest kernel).
vm_ethtool() {
  if command -v ethtool >/dev/null; then ethtool "$@"; else in_host_root ethtool "$@"; fi
}

# eth0 up with the configured MTU, queues, offloads and address; records the checks.
vm_net_up() {
  local cmd
  [ -d /sys/class/net/eth0 ] || { lab_fail net:eth0 "no eth0 (virtio-net missing?)"; return 1; }
  if [ -n "${VM_MTU:-}" ]; then
    ip link set eth0 mtu "$VM_MTU" || { lab_fail net:mtu "ip link set mtu $VM_MTU failed"; return 1; }
  fi
  if [ "${VM_QUEUES:-1}" -gt 1 ]; then
    vm_ethtool -L eth0 combined "$VM_QUEUES" || { lab_fail net:queues "ethtool -L combined $VM_QUEUES failed"; return 1; }
  fi
  if [ -n "${VM_ETHTOOL:-}" ]; then
    echo "$VM_ETHTOOL" | tr ';' '\n' | while read -r cmd; do
      [ -z "$cmd" ] || vm_ethtool $cmd || echo "ethtool $cmd failed" > /tmp/vm-ethtool-failed
    done
    [ ! -e /tmp/vm-ethtool-failed ] || { lab_fail net:ethtool "$(cat /tmp/vm-ethtool-failed)"; return 1; }
  fi
  ip link set eth0 up && ip addr add "$VM_IP/24" dev eth0 || { lab_fail net:up "ip failed"; return 1; }
  lab_wait_for 20 grep -qx 1 /sys/class/net/eth0/carrier || { lab_fail net:carrier "eth0 has no carrier"; return 1; }
  lab_ok net:up "eth0 $VM_IP mtu $(cat /sys/class/net/eth0/mtu) queues ${VM_QUEUES:-1}"
  lab_info "offloads: $(vm_ethtool -k eth0 2>/dev/null | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|rx-checksumming):' | tr -s ' \n' ' ')"
}

# What the kernel saw, for failures: TCP segments dropped for bad checksums show up as
# Tcp InCsumErrors (and InErrs), not as interface errors.
vm_tcp_diag() {  # LABEL
  local t
  t=$(awk '/^Tcp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else {
        for (i = 2; i <= NF; i++) if (n[i] ~ /^(InSegs|OutSegs|RetransSegs|InErrs|InCsumErrors)$/) printf "%s=%s ", n[i], $i } }' /proc/net/snmp)
  lab_info "tcp-diag $1: $t"
  lab_info "tcp-diag $1: eth0 $(cd /sys/class/net/eth0/statistics && for c in rx_packets rx_errors rx_dropped tx_packets tx_errors tx_dropped; do printf '%s=%s ' $c "$(cat $c)"; done)"
}
vm_tcp_counter() {  # NAME -> value of /proc/net/snmp Tcp NAME
  awk -v want="$1" '/^Tcp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == want) c = i; h = 1 } else print $c }' /proc/net/snmp
}
# A finished transfer's metrics: seconds and MB/s under tcp_LABEL_*.
vm_transfer_metrics() {  # LABEL BYTES SECONDS
  vm_metric "tcp_${1}_seconds" "$3"
  vm_metric "tcp_${1}_MBps" "$(echo "$2 $3" | awk '{printf "%.2f", $1 / 1048576 / ($2 > 0 ? $2 : 0.01)}')"
}
vm_tcp_listening() {  # PORT: a socket in LISTEN (state 0A) on PORT; busybox nc listens on IPv6 ::
  grep -qE ":$(printf %04X "$1") 0+:0000 0A " /proc/net/tcp /proc/net/tcp6
}
