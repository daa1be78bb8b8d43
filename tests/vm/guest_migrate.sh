# Live-migration scenario (migration_test.py), both guests: eth0 up, ping, then a sends
# VM_STREAM_MB MiB to b over TCP, slowly (64 KiB every 0.1 s), and the host migrates a to
# a second QEMU on the same vhostd socket meanwhile (hook migrate); b pings a every
# 0.1 s throughout. Then: the stream's sha256 at both ends, the longest ping gap
# (downtime as b sees it), and a (now the destination QEMU) pings b.
#
# The migrating guest a must not have a 9p export mounted: QEMU blocks migration while
# one is. a unmounts the shared directory and the host root before the stream and
# mounts the shared directory again after it (on the destination). Meanwhile the host
# follows a's console: "LAB-INFO migrate: ready" starts the migration.

vm_share_mount || { lab_fail share "cannot mount the shared directory (tag vmshare)"; exit 1; }
vm_net_up || exit 1
CHUNKS=$(( ${VM_STREAM_MB:-16} * 16 ))   # 64 KiB each
if [ "$VM_ROLE" = a ]; then
  head -c $((CHUNKS * 65536)) /dev/urandom > /tmp/vm-tx || { lab_fail stream:payload "cannot write"; exit 1; }
fi
vm_sync up 120 || exit 1

if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then
  lab_ok ping "$VM_PEER_IP answers"
else
  lab_fail ping "no reply from $VM_PEER_IP within 30 s"
fi
vm_sync pinged || exit 1

if [ "$VM_ROLE" = b ]; then
  rm -f /tmp/vm-rx /tmp/vm-hold; mkfifo /tmp/vm-hold
  timeout 240 nc -l -p 5001 < /tmp/vm-hold > /tmp/vm-rx &
  nc=$!
  sleep 100000 > /tmp/vm-hold &
  hold=$!
  lab_wait_for 10 vm_tcp_listening 5001 || lab_fail stream:listen "nc is not listening on 5001"
  vm_pinger_start migrate || lab_fail migrate:pinger "the pinger did not start"
  vm_mark listen.stream
  vm_hook migrate 240
  wait "$nc"; rc=$?
  kill "$hold" 2>/dev/null
  got=$(wc -c < /tmp/vm-rx); sha=$(sha256sum /tmp/vm-rx | cut -d' ' -f1)
  vm_mark rx.stream "$sha $got"
  if [ "$rc" -eq 0 ]; then lab_ok stream:received "$got bytes"; else lab_fail stream:received "$got bytes, nc status $rc"; vm_tcp_diag stream; fi
  lab_wait_for 60 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null
  sleep 1
  vm_pinger_stop migrate
  set -- $(vm_pinger_gap migrate)
  vm_metric migration_ping_gap_ms "$1"
  lab_info "migrate: b pinged a every 0.1 s: $2 replies, $3 lost, longest gap $1 ms"
  if [ "$2" -ge 20 ]; then lab_ok migrate:pings "longest gap $1 ms, $3 lost"
  else lab_fail migrate:pings "only $2 replies: $(tail -3 /tmp/vm-ping.migrate | tr '\n' ' ')"; fi
  vm_tcp_compare a b stream 60
else
  vm_mark tx.stream "$(sha256sum /tmp/vm-tx | cut -d' ' -f1) $((CHUNKS * 65536))"
  vm_wait_peer listen.stream 30 || { lab_fail stream:send "b never listened"; exit 1; }
  vm_mark hook.migrate
  # No 9p mounts while migrating (lazy: the host root has submounts).
  umount "$VM_SHARE" && umount -l /run/lab/host-tmp && umount -l "$LAB_ROOT" \
    || { lab_fail migrate:umount "cannot unmount the 9p exports: $(grep 9p /proc/mounts | tr '\n' ' ')"; exit 1; }
  t0=$(vm_now)
  ( i=0
    while [ $i -lt "$CHUNKS" ]; do
      dd if=/tmp/vm-tx bs=65536 skip=$i count=1 2>/dev/null; sleep 0.1; i=$((i + 1))
    done ) | timeout 240 nc "$VM_PEER_IP" 5001 &
  stream=$!
  lab_info "migrate: ready (9p unmounted, stream running)"
  wait "$stream"; rc=$?
  secs=$(vm_elapsed "$t0" "$(vm_now)")
  lab_info "migrate: stream done after $secs s"
  if [ "$rc" -eq 0 ]; then lab_ok stream:sent "$((CHUNKS * 65536)) bytes in $secs s"
  else lab_fail stream:sent "nc status $rc after $secs s"; vm_tcp_diag stream; fi
  vm_share_mount || { lab_fail migrate:remount "cannot mount the shared directory again"; exit 1; }
  lab_wait_for 240 [ -e "$VM_SHARE/host.migrate" ] || { lab_fail migrate:host "the host did not finish the migration"; exit 1; }
  lab_info "hook migrate: $(cat "$VM_SHARE/host.migrate")"
  if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then
    out=$(ping -c 5 -i 0.2 -W 2 "$VM_PEER_IP")
    loss=$(echo "$out" | sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p')
    if [ "$loss" = 0 ]; then lab_ok migrate:ping-after "the migrated guest pings $VM_PEER_IP, loss 0%"
    else lab_fail migrate:ping-after "loss ${loss:-?}%"; fi
  else
    lab_fail migrate:ping-after "no reply from $VM_PEER_IP within 30 s after the migration"
  fi
  vm_tcp_compare a b stream 60
fi
vm_sync done 120
