# Restart scenario (restart_test.py), both guests: eth0 up, ping, then the steps whose
# host hooks are in VM_HOOKS:
#   restart        a pings b every 0.1 s while the host SIGKILLs and restarts vhostd;
#                  the pings must resume; the longest gap between replies is the outage
#   (always)       8 MiB TCP a -> b with sha256
#   before-reboot  b runs `reboot -f`; QEMU resets it (-action reboot=reset), the
#                  same scripts run again on the second boot, which finds the marker
#                  b.rebooting and only brings eth0 up; a pings it again
#   after-reboot   (the host checks that b's port went down and came back)
#   no-reconnect   (the host runs its client-mode no_reconnect check)
# Environment beyond guest_lib.sh's: VM_SIZE_MB, VM_OUTAGE_MAX_MS.

vm_share_mount || { lab_fail share "cannot mount the shared directory (tag vmshare)"; exit 1; }
has_hook() { case " ${VM_HOOKS:-} " in *" $1 "*) return 0;; esac; return 1; }

# --- b's second boot: eth0 up, then answer a's pings ------------------------------------
if [ "$VM_ROLE" = b ] && [ -e "$VM_SHARE/b.rebooting" ]; then
  lab_ok reboot:second-boot "the scripts run again after reboot -f (uptime $(vm_now) s)"
  vm_net_up || exit 1
  vm_mark rebooted "$(vm_now)"
  vm_hook after-reboot 120
  vm_sync done 120
  exit 0
fi

vm_net_up || exit 1
if [ "$VM_ROLE" = a ]; then
  head -c $(( ${VM_SIZE_MB:-8} * 1048576 )) /dev/urandom > /tmp/vm-tx || { lab_fail tcp:payload "cannot write"; exit 1; }
fi
vm_sync up 120 || exit 1

if lab_wait_for 30 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then
  out=$(ping -c 5 -i 0.2 -W 2 "$VM_PEER_IP")
  loss=$(echo "$out" | sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p')
  if [ "$loss" = 0 ]; then lab_ok ping "$VM_PEER_IP loss 0%"; else lab_fail ping "loss ${loss:-?}%"; fi
else
  lab_fail ping "no reply from $VM_PEER_IP within 30 s"
fi
vm_sync pinged || exit 1

# --- vhostd SIGKILL + restart under a running pinger ------------------------------------
if has_hook restart; then
  if [ "$VM_ROLE" = a ]; then
    vm_pinger_start restart || lab_fail restart:pinger "the pinger did not start"
    sleep 2   # its output is buffered: counted only once it has ended
  fi
  vm_hook restart 90
  if [ "$VM_ROLE" = a ]; then
    # Resumed: a reply to a separate ping, then 2 s more of the pinger.
    lab_wait_for 60 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; resumed=$?
    sleep 2
    vm_pinger_stop restart
    set -- $(vm_pinger_gap restart)
    lab_info "restart: pings every 0.1 s, $2 replies, $3 lost, longest gap $1 ms"
    if [ "$resumed" -ne 0 ] || [ "$2" -lt 20 ]; then
      lab_fail restart:ping-resumed "no replies after the restart: $(head -3 /tmp/vm-ping.restart | tr '\n' ' ') ... $(tail -3 /tmp/vm-ping.restart | tr '\n' ' ')"
    elif [ "$1" -le "${VM_OUTAGE_MAX_MS:-15000}" ]; then
      vm_metric restart_outage_ms "$1"
      lab_ok restart:ping-resumed "outage $1 ms ($3 pings lost)"
    else
      vm_metric restart_outage_ms "$1"
      lab_fail restart:ping-resumed "outage $1 ms > ${VM_OUTAGE_MAX_MS:-15000} ms"
    fi
  fi
  vm_sync restarted 90 || exit 1
fi

vm_tcp_once a b 5001 a-b 90
vm_sync tcp || exit 1

# --- reboot of b -----------------------------------------------------------------------
if has_hook before-reboot; then
  vm_hook before-reboot 60
  if [ "$VM_ROLE" = b ]; then
    vm_mark rebooting "$(vm_now)"
    lab_info "reboot -f"
    reboot -f
    sleep 60; lab_fail reboot "still running 60 s after reboot -f"; exit 1
  fi
  t0=$(vm_now)
  vm_wait_peer rebooted 150 || { lab_fail reboot:peer-up "b did not come back within 150 s"; exit 1; }
  if lab_wait_for 60 ping -c 1 -W 1 "$VM_PEER_IP" >/dev/null; then
    vm_metric reboot_ping_back_seconds "$(vm_elapsed "$t0" "$(vm_now)")"
    out=$(ping -c 5 -i 0.2 -W 2 "$VM_PEER_IP")
    loss=$(echo "$out" | sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p')
    if [ "$loss" = 0 ]; then lab_ok reboot:ping "$VM_PEER_IP answers again after its reboot"
    else lab_fail reboot:ping "loss ${loss:-?}% after the reboot"; fi
  else
    lab_fail reboot:ping "no reply from the rebooted $VM_PEER_IP within 60 s"
  fi
  vm_hook after-reboot 120
fi

vm_hook no-reconnect 90
vm_sync done 120
