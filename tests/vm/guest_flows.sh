# In-guest helpers of the offload and multiqueue scenarios (busybox sh): TCP transfers
# of /tmp/vm-tx over one or several parallel flows, started and finished separately so
# that both directions (or an ethtool change) can overlap them. offload_mix_test.py and
# multiqueue_test.py put this file between guest_lib.sh and the scenario.
#
#   vm_flows_start FROM TO LABEL FLOWS PORT0   receiver: FLOWS listeners on PORT0..;
#                                              sender: waits for them, starts FLOWS nc
#   vm_flows_finish FROM TO LABEL FLOWS SECS   both ends wait, then compare every flow's
#                                              sha256; the sender reports MB/s (all flows)
#   vm_flows FROM TO LABEL FLOWS PORT0 SECS    both in one go
#   vm_csum_check LABEL                        Tcp InCsumErrors did not grow since the
#                                              last vm_csum_mark
# Checks: tcp:LABEL:received, tcp:LABEL:sent, tcp:LABEL:sha256 (flow numbers in the
# message); metrics ROLE.tcp_LABEL_MBps, ROLE.tcp_LABEL_seconds.

vm_flows_start() {  # FROM TO LABEL FLOWS PORT0
  local from=$1 to=$2 label=$3 n=$4 port0=$5 i
  rm -f "/tmp/vm-flows.$label".*
  if [ "$VM_ROLE" = "$to" ]; then
    i=0
    while [ "$i" -lt "$n" ]; do
      mkfifo "/tmp/vm-flows.$label.hold$i"
      timeout "${TCP_TIMEOUT:-90}" nc -l -p $((port0 + i)) < "/tmp/vm-flows.$label.hold$i" \
        > "/tmp/vm-flows.$label.rx$i" &
      echo $! >> "/tmp/vm-flows.$label.pids"
      sleep 100000 > "/tmp/vm-flows.$label.hold$i" &
      echo $! >> "/tmp/vm-flows.$label.holds"
      i=$((i + 1))
    done
    i=0
    while [ "$i" -lt "$n" ]; do
      lab_wait_for 10 vm_tcp_listening $((port0 + i)) || lab_fail "tcp:$label:listen" "nc is not listening on $((port0 + i))"
      i=$((i + 1))
    done
    vm_mark "listen.$label"
  elif [ "$VM_ROLE" = "$from" ]; then
    vm_mark "tx.$label" "$(sha256sum /tmp/vm-tx | cut -d' ' -f1) $(wc -c < /tmp/vm-tx)"
    vm_wait_peer "listen.$label" 30 || { lab_fail "tcp:$label:send" "$VM_PEER never listened"; return 1; }
    vm_now > "/tmp/vm-flows.$label.t0"
    i=0
    while [ "$i" -lt "$n" ]; do
      timeout "${TCP_TIMEOUT:-90}" nc "$VM_PEER_IP" $((port0 + i)) < /tmp/vm-tx &
      echo $! >> "/tmp/vm-flows.$label.pids"
      i=$((i + 1))
    done
  fi
}

vm_flows_finish() {  # FROM TO LABEL FLOWS SECS
  local from=$1 to=$2 label=$3 n=$4 secs=$5 p rc=0 bad="" i got sha want size t
  if [ "$VM_ROLE" = "$to" ] || [ "$VM_ROLE" = "$from" ]; then
    for p in $(cat "/tmp/vm-flows.$label.pids" 2>/dev/null); do
      wait "$p" || rc=$?
    done
  fi
  if [ "$VM_ROLE" = "$to" ]; then
    for p in $(cat "/tmp/vm-flows.$label.holds" 2>/dev/null); do kill "$p" 2>/dev/null; done
    i=0; got=0
    while [ "$i" -lt "$n" ]; do
      vm_mark "rx.$label.$i" "$(sha256sum "/tmp/vm-flows.$label.rx$i" | cut -d' ' -f1) $(wc -c < "/tmp/vm-flows.$label.rx$i")"
      got=$((got + $(wc -c < "/tmp/vm-flows.$label.rx$i")))
      i=$((i + 1))
    done
    if [ "$rc" -eq 0 ]; then lab_ok "tcp:$label:received" "$got bytes in $n flow(s)"
    else lab_fail "tcp:$label:received" "$got bytes in $n flow(s), an nc ended with $rc$([ "$rc" -eq 143 ] && echo " (timed out)")"
         vm_tcp_diag "$label receiver"; fi
    rm -f "/tmp/vm-flows.$label".rx* "/tmp/vm-flows.$label".hold*
  elif [ "$VM_ROLE" = "$from" ]; then
    t=$(vm_elapsed "$(cat "/tmp/vm-flows.$label.t0")" "$(vm_now)")
    size=$(( $(wc -c < /tmp/vm-tx) * n ))
    if [ "$rc" -eq 0 ]; then
      lab_ok "tcp:$label:sent" "$size bytes in $n flow(s) in $t s"
      vm_transfer_metrics "$label" "$size" "$t"
    else
      lab_fail "tcp:$label:sent" "an nc ended with $rc after $t s$([ "$rc" -eq 143 ] && echo " (timed out)")"
      vm_tcp_diag "$label sender"
    fi
  fi
  # Both ends compare every flow's checksum with what the sender sent.
  i=0
  while [ "$i" -lt "$n" ]; do
    lab_wait_for "$secs" [ -e "$VM_SHARE/$from.tx.$label" -a -e "$VM_SHARE/$to.rx.$label.$i" ]
    want=$(cat "$VM_SHARE/$from.tx.$label" 2>/dev/null); got=$(cat "$VM_SHARE/$to.rx.$label.$i" 2>/dev/null)
    [ -n "$want" ] && [ "$want" = "$got" ] || bad="$bad flow $i: sent '$want', received '$got';"
    i=$((i + 1))
  done
  if [ -z "$bad" ]; then lab_ok "tcp:$label:sha256" "${want%% *} x $n"
  else lab_fail "tcp:$label:sha256" "$bad"; fi
}

vm_flows() {  # FROM TO LABEL FLOWS PORT0 SECS
  vm_flows_start "$1" "$2" "$3" "$4" "$5"
  vm_flows_finish "$1" "$2" "$3" "$4" "$6"
}

vm_csum_mark() { VM_CSUM0=$(vm_tcp_counter InCsumErrors); }
vm_csum_check() {  # LABEL
  local now
  now=$(vm_tcp_counter InCsumErrors)
  if [ "$now" -eq "${VM_CSUM0:-0}" ]; then lab_ok "csum:$1" "Tcp InCsumErrors stayed $now"
  else lab_fail "csum:$1" "Tcp InCsumErrors went from $VM_CSUM0 to $now"; fi
  VM_CSUM0=$now
}

# "on" / "off": what ethtool -k says about FEATURE (e.g. tcp-segmentation-offload).
vm_offload() { vm_ethtool -k eth0 2>/dev/null | sed -n "s/^$1: \([a-z]*\).*/\1/p"; }
