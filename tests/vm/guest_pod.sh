# VM <-> pod scenario, run in one guest: its vhost-user port is cross-connected to a
# vhost-kernel tap that sits in a network namespace on the host (the "pod"). The host
# side (pod.py) runs the pod's end of each transfer with tcp_probe.py; the two sides
# meet through markers in the shared directory (host.* written by the host).
#
# Environment beyond guest_lib.sh's: VM_PEER_IP (the pod), VM_SIZE_MB, VM_TCP_TIMEOUT.

SIZE=$(( ${VM_SIZE_MB:-8} * 1048576 ))
TCP_TIMEOUT=${VM_TCP_TIMEOUT:-90}

vm_share_mount || { lab_fail share "cannot mount the shared directory (tag vmshare)"; exit 1; }
vm_net_up || exit 1
head -c "$SIZE" /dev/urandom > /tmp/vm-tx || { lab_fail tcp:payload "cannot write $SIZE bytes"; exit 1; }
vm_mark up

if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then
  out=$(ping -c 5 -i 0.2 -W 2 "$VM_PEER_IP")
  case "$out" in *" 0% packet loss"*) lab_ok ping "$VM_PEER_IP: $(echo "$out" | tail -1)";;
                 *) lab_fail ping "$(echo "$out" | tail -2 | tr '\n' ' ')";; esac
else
  lab_fail ping "no reply from the pod at $VM_PEER_IP within 30 s"
fi

# Compares what one end sent with what the other received (markers "SHA BYTES").
same_payload() {  # LABEL SENT-MARKER RECEIVED-MARKER
  lab_wait_for "$((TCP_TIMEOUT + 30))" [ -e "$VM_SHARE/$2" -a -e "$VM_SHARE/$3" ]
  local sent got
  sent=$(cat "$VM_SHARE/$2" 2>/dev/null); got=$(cat "$VM_SHARE/$3" 2>/dev/null)
  if [ -n "$sent" ] && [ "$sent" = "$got" ]; then lab_ok "tcp:$1:sha256" "$sent"
  else lab_fail "tcp:$1:sha256" "sent '$sent', received '$got'"; vm_tcp_diag "$1"; fi
}

# VM -> pod: the pod listens first.
lab_wait_for 60 [ -e "$VM_SHARE/host.listen.vm-pod" ] || lab_fail tcp:vm-pod:listen "the pod never listened"
t0=$(vm_now)
if timeout "$TCP_TIMEOUT" nc "$VM_PEER_IP" 5001 < /tmp/vm-tx; then
  lab_ok tcp:vm-pod:sent "$SIZE bytes in $(vm_elapsed "$t0" "$(vm_now)") s"
else
  lab_fail tcp:vm-pod:sent "nc failed"; vm_tcp_diag vm-pod
fi
vm_mark tx.vm-pod "$SIZE $(sha256sum /tmp/vm-tx | cut -d' ' -f1)"
same_payload vm-pod a.tx.vm-pod host.rx.vm-pod

# pod -> VM: this guest listens (nc's stdin a FIFO held open: see guest_pair.sh).
rm -f /tmp/vm-rx /tmp/vm-hold; mkfifo /tmp/vm-hold
timeout "$TCP_TIMEOUT" nc -l -p 5002 < /tmp/vm-hold > /tmp/vm-rx &
nc_pid=$!
sleep 100000 > /tmp/vm-hold &
hold=$!
lab_wait_for 10 vm_tcp_listening 5002 || lab_fail tcp:pod-vm:listen "nc is not listening"
vm_mark listen.pod-vm
wait "$nc_pid" && lab_ok tcp:pod-vm:received "$(wc -c < /tmp/vm-rx) bytes" || lab_fail tcp:pod-vm:received "nc failed"
kill "$hold" 2>/dev/null
vm_mark rx.pod-vm "$(wc -c < /tmp/vm-rx) $(sha256sum /tmp/vm-rx | cut -d' ' -f1)"
same_payload pod-vm host.tx.pod-vm a.rx.pod-vm
vm_metric tcp_in_csum_errors "$(vm_tcp_counter InCsumErrors)"
