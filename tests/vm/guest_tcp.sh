# In-guest helpers of the restart and migration scenarios (busybox sh): a one-way TCP
# transfer with sha256 at both ends, and a timestamped pinger whose longest gap is the
# outage. restart_test.py / migration_test.py put this file between guest_lib.sh and the
# scenario.

# One transfer FROM -> TO on PORT of /tmp/vm-tx (the sender's file, made beforehand):
# the receiver listens and says so, the sender sends; both compare the checksums from
# the shared directory. LABEL names the checks (tcp:LABEL:...).
vm_tcp_once() {  # FROM TO PORT LABEL [TIMEOUT]
  local from=$1 to=$2 port=$3 label=$4 tmo=${5:-90} rc t0 secs got sha want nc hold
  if [ "$VM_ROLE" = "$to" ]; then
    rm -f /tmp/vm-rx /tmp/vm-hold; mkfifo /tmp/vm-hold
    timeout "$tmo" nc -l -p "$port" < /tmp/vm-hold > /tmp/vm-rx &
    nc=$!
    sleep 100000 > /tmp/vm-hold &
    hold=$!
    lab_wait_for 10 vm_tcp_listening "$port" || lab_fail "tcp:$label:listen" "nc is not listening on $port"
    vm_mark "listen.$label"
    wait "$nc"; rc=$?
    kill "$hold" 2>/dev/null
    got=$(wc -c < /tmp/vm-rx); sha=$(sha256sum /tmp/vm-rx | cut -d' ' -f1)
    vm_mark "rx.$label" "$sha $got"
    if [ "$rc" -eq 0 ]; then lab_ok "tcp:$label:received" "$got bytes"
    else lab_fail "tcp:$label:received" "$got bytes, nc status $rc"; vm_tcp_diag "$label receiver"; fi
    rm -f /tmp/vm-rx /tmp/vm-hold
  else
    sha=$(sha256sum /tmp/vm-tx | cut -d' ' -f1)
    vm_mark "tx.$label" "$sha $(wc -c < /tmp/vm-tx)"
    vm_wait_peer "listen.$label" 30 || { lab_fail "tcp:$label:send" "$VM_PEER never listened"; return 1; }
    t0=$(vm_now)
    timeout "$tmo" nc "$VM_PEER_IP" "$port" < /tmp/vm-tx; rc=$?
    secs=$(vm_elapsed "$t0" "$(vm_now)")
    if [ "$rc" -eq 0 ]; then lab_ok "tcp:$label:sent" "$(wc -c < /tmp/vm-tx) bytes in $secs s"
    else lab_fail "tcp:$label:sent" "nc status $rc after $secs s"; vm_tcp_diag "$label sender"; fi
  fi
  vm_tcp_compare "$from" "$to" "$label" "$((tmo + 30))"
}

vm_tcp_compare() {  # FROM TO LABEL SECS: the sender's and the receiver's sha256 match
  local want got
  lab_wait_for "$4" [ -e "$VM_SHARE/$1.tx.$3" -a -e "$VM_SHARE/$2.rx.$3" ]
  want=$(cat "$VM_SHARE/$1.tx.$3" 2>/dev/null); got=$(cat "$VM_SHARE/$2.rx.$3" 2>/dev/null)
  if [ -n "$want" ] && [ "$want" = "$got" ]; then lab_ok "tcp:$3:sha256" "${want%% *}"
  else lab_fail "tcp:$3:sha256" "sent '$want', received '$got'"; fi
}

# A pinger with receive timestamps: the host's iputils ping (-D) through the host root;
# busybox ping prints no times. Every 0.1 s; output in /tmp/vm-ping.NAME, complete once
# vm_pinger_stop ended it (a file is written in blocks).
vm_pinger_start() {  # NAME
  rm -f "$LAB_ROOT/tmp/vm-ping.$1.pid"
  in_host_root /bin/sh -c 'echo $$ > "$0"; exec "$@"' "/tmp/vm-ping.$1.pid" \
    ping -D -n -i 0.1 -W 1 "$VM_PEER_IP" > "/tmp/vm-ping.$1" 2>&1 &
  lab_wait_for 10 [ -s "$LAB_ROOT/tmp/vm-ping.$1.pid" ]
}
vm_pinger_stop() { kill -INT "$(cat "$LAB_ROOT/tmp/vm-ping.$1.pid")" 2>/dev/null; sleep 0.5; }   # NAME
# "GAP_MS REPLIES MISSING": the longest time between two consecutive replies, the
# replies, and the sequence numbers between the first and the last reply without one.
vm_pinger_gap() {  # NAME
  awk '/icmp_seq=/ { t = substr($1, 2, length($1) - 2) + 0; s = $0; sub(/.*icmp_seq=/, "", s); s = s + 0
         if (n++ && t - last > gap) gap = t - last; last = t
         if (!seen[s]++) { if (n == 1 || s < lo) lo = s; if (s > hi) hi = s; uniq++ } }
       END { printf "%d %d %d\n", gap * 1000, n, (n ? hi - lo + 1 - uniq : 0) }' "/tmp/vm-ping.$1"
}
