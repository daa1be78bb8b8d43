# In-guest smoke test of the lab itself (busybox sh; run-guest.sh runs it after
# guest-prelude.sh). Checks that what the vhost-kernel and vDPA tests need is there:
# the vhost-net and tun devices, a vdpa_sim_net device behind /dev/vhost-vdpa-0,
# dpdk-testpmd from the host root driving /dev/vhost-net with packets actually flowing,
# and, when VHOSTD_BIN is set, the daemon starting up inside the guest.

since() { echo "$(lab_uptime) $1" | awk '{printf "%.1f", $1-$2}'; }

# 1. vhost-kernel devices
for d in /dev/vhost-net /dev/net/tun; do
  if [ -c $d ]; then lab_ok "device:$d"; else lab_fail "device:$d" "missing"; fi
done

# 2. vDPA: a simulated net device; vhost_vdpa binds it and creates /dev/vhost-vdpa-0.
# (The management device is called vdpasim_net in 6.1, not vdpa_sim_net as in the man page.)
if in_host_root vdpa dev add name vdpa0 mgmtdev vdpasim_net mac 02:00:00:00:0d:0a &&
   lab_wait_for 10 [ -c /dev/vhost-vdpa-0 ]; then
  lab_ok vdpa:vhost-vdpa-0 "driver=$(basename "$(readlink /sys/bus/vdpa/devices/vdpa0/driver)")"
else
  lab_fail vdpa:vhost-vdpa-0 "vdpa dev add failed or /dev/vhost-vdpa-0 did not appear"
fi
# Later scripts in the same guest may want the name and /dev/vhost-vdpa-0 for themselves.
in_host_root vdpa dev del vdpa0 2>/dev/null

# 3. testpmd on /dev/vhost-net: virtio-user creates tap0 in the guest kernel; testpmd
# answers ARP and ping (icmpecho) on its side, so kernel pings over tap0 cross vhost_net.
# It prints "Press enter to exit" once forwarding has started.
t0=$(lab_uptime)
lab_bg_start testpmd stdbuf -oL dpdk-testpmd -l 0,1 --no-huge -m 128 --no-pci \
  --file-prefix lab-vk --vdev net_virtio_user0,path=/dev/vhost-net,iface=tap0,queues=1 \
  -- --total-num-mbufs=4096 --nb-cores=1 --forward-mode=icmpecho
if lab_bg_wait testpmd 60 grep -q 'Press enter to exit' "$(lab_bg_log testpmd)" &&
   [ -d /sys/class/net/tap0 ]; then
  lab_ok testpmd:vhost-kernel "forwarding after $(since "$t0") s"
  ip addr add 10.1.0.1/24 dev tap0 && ip link set tap0 up
  received=$(ping -c 3 -W 5 10.1.0.2 2>&1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
  if [ "${received:-0}" -ge 1 ]; then
    lab_ok ping:tap0 "$received/3 replies from testpmd"
  else
    lab_fail ping:tap0 "no replies from testpmd over tap0/vhost-net"
  fi
else
  lab_fail testpmd:vhost-kernel "not forwarding within 60 s, or no tap0"
fi
lab_bg_stop testpmd; rc=$?
if [ $rc -eq 0 ]; then lab_ok testpmd:exit; else lab_fail testpmd:exit "status $rc"; fi
grep -q 'Bye' "$(lab_bg_log testpmd)" && [ $rc -eq 0 ] || tail -30 "$(lab_bg_log testpmd)" | sed 's/^/testpmd: /'

# 4. The daemon starts in the guest (EAL init, engine, gRPC socket) and stops on SIGTERM.
if [ -n "${VHOSTD_BIN:-}" ]; then
  t0=$(lab_uptime) d=/tmp/vhostd started=0
  in_host_root mkdir -p $d/sockets
  lab_bg_start vhostd "$VHOSTD_BIN" --grpc-socket=$d/api.sock --socket-dir=$d/sockets \
    --state-file=$d/state.json --cores=1 --memory-mb=128 --mbufs=2048 --metrics-address= \
    --eal-args=--file-prefix=lab-vhostd
  if lab_bg_wait vhostd 60 [ -S "$LAB_ROOT$d/api.sock" ]; then
    started=1
    lab_ok vhostd:start "gRPC socket after $(since "$t0") s"
  else
    lab_fail vhostd:start "no gRPC socket within 60 s"
  fi
  lab_bg_stop vhostd TERM; rc=$?
  if [ $rc -eq 0 ]; then lab_ok vhostd:stop; else lab_fail vhostd:stop "status $rc"; fi
  [ $started = 1 ] && [ $rc -eq 0 ] || tail -30 "$(lab_bg_log vhostd)" | sed 's/^/vhostd: /'
fi
