# Offload mix scenario (offload_mix_test.py), in both guests: eth0 up, ping, then one
# phase per name in VM_PHASES, each: set this guest up for it, then 8 MiB TCP a -> b and
# b -> a (sha256 at both ends), then check that Tcp InCsumErrors did not grow.
#
# Per phase P (per-role variables, empty = nothing to do):
#   VM_PHASE_P_ETHTOOL    ethtool argument lists for eth0 (';'-separated), before P
#   VM_PHASE_P_MTU        eth0 MTU for P
#   VM_PHASE_P_TSO        on/off: what `ethtool -k eth0` must say about
#                         tcp-segmentation-offload in P
#   VM_PHASE_P_PING       ping payload size checked with don't-fragment (iputils ping
#                         from the host root: busybox ping has no -M)

SIZE=$(( ${VM_SIZE_MB:-8} * 1048576 ))
TCP_TIMEOUT=${VM_TCP_TIMEOUT:-90}

vm_share_mount || { lab_fail share "cannot mount the shared directory (tag vmshare)"; exit 1; }
vm_net_up || exit 1
head -c "$SIZE" /dev/urandom > /tmp/vm-tx || { lab_fail tcp:payload "cannot write $SIZE bytes to /tmp"; exit 1; }
vm_sync up 120 || exit 1
if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then lab_ok ping "$VM_PEER_IP answers"
else lab_fail ping "no reply from $VM_PEER_IP within 30 s"; exit 1; fi
vm_sync pinged || exit 1
vm_hook links-up  # the host reads the drop counters here: what follows must not drop

port=5100
for phase in ${VM_PHASES:-}; do
  eval "eth=\${VM_PHASE_${phase}_ETHTOOL:-}; mtu=\${VM_PHASE_${phase}_MTU:-}"
  eval "tso=\${VM_PHASE_${phase}_TSO:-}; psize=\${VM_PHASE_${phase}_PING:-}"
  if [ -n "$eth" ]; then
    echo "$eth" | tr ';' '\n' | while read -r cmd; do
      [ -z "$cmd" ] || vm_ethtool $cmd >/dev/null || echo "ethtool $cmd failed" > /tmp/vm-ethtool-failed
    done
    if [ -e /tmp/vm-ethtool-failed ]; then lab_fail "$phase:ethtool" "$(cat /tmp/vm-ethtool-failed)"; rm -f /tmp/vm-ethtool-failed
    else lab_ok "$phase:ethtool" "$eth"; fi
  fi
  if [ -n "$mtu" ]; then
    ip link set eth0 mtu "$mtu" && lab_ok "$phase:mtu" "$(cat /sys/class/net/eth0/mtu)" \
      || lab_fail "$phase:mtu" "ip link set eth0 mtu $mtu failed"
  fi
  lab_info "offloads $phase: $(vm_ethtool -k eth0 2>/dev/null | grep -E '^(tx-checksumming|scatter-gather|tcp-segmentation-offload|generic-segmentation-offload):' | tr -s ' \n' ' ')"
  if [ -n "$tso" ]; then
    got=$(vm_offload tcp-segmentation-offload)
    [ "$got" = "$tso" ] && lab_ok "$phase:tso" "tcp-segmentation-offload: $got" \
      || lab_fail "$phase:tso" "tcp-segmentation-offload is '$got', want $tso"
  fi
  vm_sync "$phase.ready" || exit 1
  if [ -n "$psize" ]; then
    out=$(in_host_root ping -c 3 -i 0.3 -W 2 -M do -s "$psize" "$VM_PEER_IP" 2>&1)
    case "$out" in
      *" 0% packet loss"*) lab_ok "$phase:ping-$psize" "$(echo "$out" | grep -m1 'bytes from')";;
      *) lab_fail "$phase:ping-$psize" "$(echo "$out" | tail -3 | tr '\n' ' ')";;
    esac
  fi
  vm_csum_mark
  vm_flows a b "$phase-a-b" 1 "$port" "$((TCP_TIMEOUT + 30))"
  vm_sync "$phase.a-b" || exit 1
  vm_flows b a "$phase-b-a" 1 "$((port + 1))" "$((TCP_TIMEOUT + 30))"
  vm_csum_check "$phase"
  vm_sync "$phase.done" || exit 1
  port=$((port + 2))
done
vm_hook end
vm_sync done
