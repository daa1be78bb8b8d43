# Pair scenario, run in both guests (roles a and b) at once: eth0 up, wait for the peer,
# ping it (ARP included), then a TCP bulk transfer each way with busybox nc: a -> b, then
# b -> a. Every file's sha256 goes into the shared directory, and both ends compare
# what was sent with what arrived.
#
# Environment beyond guest_lib.sh's: VM_SIZE_MB (per direction), VM_TCP_TIMEOUT (seconds
# per transfer), VM_PING_COUNT.
# Host hooks (VM_HOOKS): after-ping, after-tcp.

SIZE=$(( ${VM_SIZE_MB:-8} * 1048576 ))
TCP_TIMEOUT=${VM_TCP_TIMEOUT:-90}

vm_share_mount || { lab_fail share "cannot mount the shared directory (tag vmshare)"; exit 1; }
vm_net_up || exit 1

# The payloads, made before the first barrier so that generating them (slow under TCG)
# never counts as transfer time.
t0=$(vm_now)
head -c "$SIZE" /dev/urandom > /tmp/vm-tx || { lab_fail tcp:payload "cannot write $SIZE bytes to /tmp"; exit 1; }
lab_info "payload of $SIZE bytes in $(vm_elapsed "$t0" "$(vm_now)") s"
vm_metric ready_uptime "$(vm_now)"

vm_sync up 120 || exit 1

# --- ping: the first reply may take a while (the peer's ARP, its first interrupt) -----
t0=$(vm_now)
if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then
  vm_metric first_ping_seconds "$(vm_elapsed "$t0" "$(vm_now)")"
  out=$(ping -c "${VM_PING_COUNT:-10}" -i 0.2 -W 2 "$VM_PEER_IP")
  loss=$(echo "$out" | sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p')
  rtt=$(echo "$out" | sed -n 's/.*min\/avg\/max = \(.*\)/\1/p')
  if [ "$loss" = 0 ]; then lab_ok ping "$VM_PEER_IP loss 0% rtt min/avg/max $rtt"
  else lab_fail ping "$VM_PEER_IP loss ${loss:-?}%: $(echo "$out" | tail -2 | tr '\n' ' ')"; fi
else
  lab_fail ping "no reply from $VM_PEER_IP within 30 s"
fi
neigh=$(ip neigh show "$VM_PEER_IP" dev eth0)
case "$neigh" in
  *"lladdr $VM_PEER_MAC"*) lab_ok arp "$neigh";;
  *) lab_fail arp "neighbour entry for $VM_PEER_IP is '$neigh', want lladdr $VM_PEER_MAC";;
esac
vm_sync pinged || exit 1
vm_hook after-ping

# --- TCP: one direction per phase -------------------------------------------------------

# The receiver listens, says so, and stores what arrives; the sender waits for that and
# sends its payload. nc's stdin on the receiving end is a FIFO that stays open: busybox
# nc shuts the connection down as soon as its stdin reaches EOF.
tcp_phase() {  # FROM TO PORT
  local from=$1 to=$2 port=$3 label="$1-$2" rc t0 t1 secs got sha want segs0
  if [ "$VM_ROLE" = "$to" ]; then
    rm -f /tmp/vm-rx /tmp/vm-hold; mkfifo /tmp/vm-hold
    timeout "$TCP_TIMEOUT" nc -l -p "$port" < /tmp/vm-hold > /tmp/vm-rx &
    local nc=$!
    sleep 100000 > /tmp/vm-hold &
    local hold=$!
    lab_wait_for 10 vm_tcp_listening "$port" || lab_fail "tcp:$label:listen" "nc is not listening on $port"
    vm_mark "listen.$label"
    t0=$(vm_now)
    wait "$nc"; rc=$?
    t1=$(vm_now)
    kill "$hold" 2>/dev/null
    got=$(wc -c < /tmp/vm-rx); sha=$(sha256sum /tmp/vm-rx | cut -d' ' -f1)
    vm_mark "rx.$label" "$sha $got"
    if [ "$rc" -eq 0 ] && [ "$got" -eq "$SIZE" ]; then
      lab_ok "tcp:$label:received" "$got bytes"
    else
      lab_fail "tcp:$label:received" "$got of $SIZE bytes, nc status $rc$([ "$rc" -eq 143 ] && echo " (timed out after ${TCP_TIMEOUT}s)")"
      vm_tcp_diag "$label receiver"
    fi
    rm -f /tmp/vm-rx /tmp/vm-hold
  else
    sha=$(sha256sum /tmp/vm-tx | cut -d' ' -f1)
    vm_mark "tx.$label" "$sha $SIZE"
    vm_wait_peer "listen.$label" 30 || { lab_fail "tcp:$label:send" "$VM_PEER never listened"; return 1; }
    segs0=$(vm_tcp_counter OutSegs)
    t0=$(vm_now)
    timeout "$TCP_TIMEOUT" nc "$VM_PEER_IP" "$port" < /tmp/vm-tx; rc=$?
    t1=$(vm_now)
    secs=$(vm_elapsed "$t0" "$t1")
    if [ "$rc" -eq 0 ]; then
      lab_ok "tcp:$label:sent" "$SIZE bytes in $secs s"
      vm_transfer_metrics "$label" "$SIZE" "$secs"
    else
      lab_fail "tcp:$label:sent" "nc status $rc after $secs s$([ "$rc" -eq 143 ] && echo " (timed out)")"
      vm_tcp_diag "$label sender"
    fi
    vm_metric "tcp_${label}_out_segs" "$(( $(vm_tcp_counter OutSegs) - segs0 ))"
  fi
  # Both ends compare the two checksums.
  lab_wait_for "$((TCP_TIMEOUT + 30))" [ -e "$VM_SHARE/$from.tx.$label" -a -e "$VM_SHARE/$to.rx.$label" ]
  want=$(cat "$VM_SHARE/$from.tx.$label" 2>/dev/null); got=$(cat "$VM_SHARE/$to.rx.$label" 2>/dev/null)
  if [ -n "$want" ] && [ "$want" = "$got" ]; then
    lab_ok "tcp:$label:sha256" "${want%% *}"
  else
    lab_fail "tcp:$label:sha256" "sent '$want', received '$got'"
  fi
}

csum0=$(vm_tcp_counter InCsumErrors)
tcp_phase a b 5001
vm_sync tcp-a-b || exit 1
tcp_phase b a 5002
vm_metric tcp_in_csum_errors "$(( $(vm_tcp_counter InCsumErrors) - csum0 ))"
vm_hook after-tcp
# Stay up until the peer is done too: its last packets need this end.
vm_sync done
