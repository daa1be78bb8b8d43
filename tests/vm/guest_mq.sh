# Multiqueue scenario (multiqueue_test.py), in both guests: eth0 up (vm_net_up runs
# `ethtool -L eth0 combined $VM_QUEUES` when VM_QUEUES > 1), ping, then:
#
#   VM_MQ_MODE=resize   flows: 2 TCP flows each way at once (4 in all), so that both
#                       queues of both guests transmit; hook `queues` (the host checks
#                       the per-queue counters). resize: 2 flows each way again, and
#                       while they run guest $VM_MQ_RESIZE runs `ethtool -L eth0
#                       combined 1`; all must arrive intact; hook `resized` (the host
#                       checks active_queues). after: 1 flow each way on the new set-up.
#   VM_MQ_MODE=plain    1 flow a -> b, then b -> a; hook `end`.
#
# Every transfer: sha256 at both ends; Tcp InCsumErrors must not grow.

SIZE=$(( ${VM_SIZE_MB:-8} * 1048576 ))
TCP_TIMEOUT=${VM_TCP_TIMEOUT:-90}
SECS=$((TCP_TIMEOUT + 30))

vm_share_mount || { lab_fail share "cannot mount the shared directory (tag vmshare)"; exit 1; }
vm_net_up || exit 1
lab_info "queues: $(vm_ethtool -l eth0 2>/dev/null | grep -i combined | tr -s ' \t\n' ' ')"
head -c "$SIZE" /dev/urandom > /tmp/vm-tx || { lab_fail tcp:payload "cannot write $SIZE bytes to /tmp"; exit 1; }
vm_sync up 120 || exit 1
if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then lab_ok ping "$VM_PEER_IP answers"
else lab_fail ping "no reply from $VM_PEER_IP within 30 s"; exit 1; fi
vm_sync pinged || exit 1
vm_csum_mark

both_ways() {  # LABEL FLOWS PORT0 [CMD...]: FLOWS flows a -> b and b -> a at once; CMD runs meanwhile
  local label=$1 n=$2 port0=$3
  shift 3
  vm_flows_start a b "$label-a-b" "$n" "$port0"
  vm_flows_start b a "$label-b-a" "$n" "$((port0 + 10))"
  [ $# -eq 0 ] || "$@"
  vm_flows_finish a b "$label-a-b" "$n" "$SECS"
  vm_flows_finish b a "$label-b-a" "$n" "$SECS"
  vm_csum_check "$label"
}

queue_counters() {  # eth0's per-queue packet counters (virtio-net's ethtool -S)
  vm_ethtool -S eth0 2>/dev/null | grep -E 'tx_queue_[0-9]+_packets|rx_queue_[0-9]+_packets' | tr -s ' \n' ' '
}

resize_now() {
  [ "$VM_ROLE" = "${VM_MQ_RESIZE:-a}" ] || return 0
  sleep 0.5
  local running=0 p
  for p in $(cat /tmp/vm-flows.resize-a-b.pids /tmp/vm-flows.resize-b-a.pids 2>/dev/null); do
    kill -0 "$p" 2>/dev/null && running=$((running + 1))
  done
  if vm_ethtool -L eth0 combined 1; then
    lab_ok resize:ethtool "ethtool -L eth0 combined 1 with $running of 4 local nc still running"
  else
    lab_fail resize:ethtool "ethtool -L eth0 combined 1 failed"
  fi
  [ "$running" -gt 0 ] || lab_fail resize:during "the transfers had ended before ethtool -L ran"
}

case "${VM_MQ_MODE:-plain}" in
  resize)
    both_ways flows 2 5300
    lab_info "per-queue after flows: $(queue_counters)"
    vm_sync flows || exit 1
    vm_hook queues
    both_ways resize 2 5400 resize_now
    lab_info "queues after resize: $(vm_ethtool -l eth0 2>/dev/null | grep -i combined | tr -s ' \t\n' ' ')"
    vm_sync resize || exit 1
    vm_hook resized
    vm_flows a b after-a-b 1 5500 "$SECS"
    vm_sync after || exit 1
    vm_flows b a after-b-a 1 5501 "$SECS"
    vm_csum_check after
    ;;
  plain)
    vm_flows a b plain-a-b 1 5300 "$SECS"
    vm_sync plain || exit 1
    vm_flows b a plain-b-a 1 5301 "$SECS"
    vm_csum_check plain
    vm_hook end
    ;;
esac
vm_sync done
