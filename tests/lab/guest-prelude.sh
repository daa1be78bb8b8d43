# Sourced (busybox sh, inside the lab guest) before the test scripts run. run-guest.sh
# embeds it in the guest and sources it once; a test script may source "$LAB_PRELUDE"
# again, which does nothing the second time.
#
# What it sets up:
#   - module groups vhost (/dev/vhost-net, /dev/net/tun) and vdpa (vdpa bus, vdpa_sim_net,
#     vhost_vdpa) and p9;
#   - the host's root file system, read-only over virtio-9p, at /mnt, with the guest's own
#     /dev, /proc, /sys and fresh tmpfs on /tmp, /run (/var/run is a link to /run, which
#     is where DPDK keeps its runtime directory) and /dev/shm;
#   - ulimit -l unlimited: vhost_vdpa pins all memory DPDK maps for DMA and checks
#     RLIMIT_MEMLOCK even for root (the default 8 MiB makes the IOTLB update fail with
#     "Bad address");
#   - a minimal DPDK plugin directory (see lab_minimal_pmd_dir).
# Functions for test scripts:
#   in_host_root CMD...     run CMD chrooted into the host root, cwd $REPO
#   lab_ok NAME [MSG...]    record a passed check      -> "LAB-OK NAME MSG"
#   lab_fail NAME MSG...    record a failed check      -> "LAB-FAIL NAME: MSG"
#   lab_info MSG...         informational line         -> "LAB-INFO MSG"
#   lab_wait_for SECS CMD...  retry CMD every 0.2 s until it succeeds or SECS pass
#   lab_uptime              guest uptime in seconds
#   lab_bg_start NAME CMD...  start CMD in the host root in the background (see below)
#   lab_bg_wait NAME SECS CMD...  lab_wait_for, but give up early if NAME has ended
#   lab_bg_stop NAME [SIG]  end NAME (EOF on its stdin, or signal SIG); returns its status
#   lab_bg_pid NAME, lab_bg_log NAME   its PID, the path of its output (guest view)
# Environment set by run-guest.sh: REPO (repository path, the same as on the host),
# VHOSTD_BIN (optional), LAB_PMD_KEEP (plugin files to keep), anything given with -e.

if [ -z "${LAB_PRELUDE_DONE:-}" ]; then
LAB_PRELUDE_DONE=1
export LAB_ROOT=/mnt LAB_RESULTS=/tmp/lab-results

lab_uptime() { cut -d' ' -f1 /proc/uptime; }
lab_info() { echo "LAB-INFO $*"; }
lab_ok() { echo "LAB-OK $*"; echo "ok $1" >> "$LAB_RESULTS"; }
lab_fail() {
  local name=$1; shift
  echo "LAB-FAIL $name: $*"; echo "fail $name" >> "$LAB_RESULTS"
}
lab_check() {  # NAME CMD...: LAB-OK NAME if CMD succeeds, else LAB-FAIL (CMD's output says why)
  local name=$1; shift
  if "$@"; then lab_ok "$name"; else lab_fail "$name" "failed: see its output above"; fi
}
# One of the tree's Python tests, from the host root (cwd $REPO), as the lab runs them:
# VHOSTD_REQUIRE_KERNEL=1 makes a missing kernel feature a failure instead of a fallback
# or skip, DPDK processes get little memory, and TEST_SRCDIR (passed in by the host)
# lets the test find the daemon, the CLI and the generated modules in Bazel's runfiles.
lab_python_test() {  # NAME FILE
  lab_check "$1" in_host_root env TEST_SRCDIR="${TEST_SRCDIR:-}" TEST_WORKSPACE="${TEST_WORKSPACE:-}" \
    VHOSTD_REQUIRE_KERNEL=1 VHOSTD_TEST_MEM_MB=256 /usr/bin/python3 "$2" -v
}
lab_wait_for() {  # SECS CMD...
  local deadline=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift
  while ! "$@" 2>/dev/null; do
    [ "$(cut -d. -f1 /proc/uptime)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# Background processes, e.g. dpdk-testpmd or vhostd. Several may run at once, each under
# its own NAME. Files live in the host root's /tmp/lab-bg (= $LAB_ROOT/tmp/lab-bg here):
# NAME.log gets stdout and stderr. Stdin is a FIFO held open by a `sleep`, because
# testpmd without -i forwards until its stdin reaches EOF; lab_bg_stop without a signal
# ends the sleep, which delivers that EOF. Note: a program's stdout into a file is fully
# buffered; run it under `stdbuf -oL` to poll its log for progress messages.
lab_bg_start() {  # NAME CMD...
  local name=$1 dir=$LAB_ROOT/tmp/lab-bg; shift
  mkdir -p "$dir"; rm -f "$dir/$name".*
  mkfifo "$dir/$name.in"
  in_host_root /bin/sh -c 'echo $$ > "$0"; exec "$@"' "/tmp/lab-bg/$name.pid" "$@" \
    < "$dir/$name.in" > "$dir/$name.log" 2>&1 &
  echo $! > "$dir/$name.job"
  sleep 2147483647 > "$dir/$name.in" &
  echo $! > "$dir/$name.stdin"
  lab_wait_for 10 [ -s "$dir/$name.pid" ]
}
lab_bg_pid() { cat "$LAB_ROOT/tmp/lab-bg/$1.pid" 2>/dev/null; }
lab_bg_log() { echo "$LAB_ROOT/tmp/lab-bg/$1.log"; }
lab_bg_running() { local p; p=$(lab_bg_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
lab_bg_wait() {  # NAME SECS CMD...
  local name=$1 deadline=$(( $(cut -d. -f1 /proc/uptime) + $2 )); shift 2
  until "$@" 2>/dev/null; do
    lab_bg_running "$name" || return 1
    [ "$(cut -d. -f1 /proc/uptime)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}
lab_bg_stop() {  # NAME [SIGNAL]
  local dir=$LAB_ROOT/tmp/lab-bg name=$1 pid
  pid=$(lab_bg_pid "$name")
  kill "$(cat "$dir/$name.stdin")" 2>/dev/null
  [ -z "${2:-}" ] || [ -z "$pid" ] || kill -"$2" "$pid" 2>/dev/null
  lab_wait_for 30 eval '! lab_bg_running "$name"' || kill -9 "$pid" 2>/dev/null
  wait "$(cat "$dir/$name.job")"   # the job's status is that of the command it exec'd
}

# Runs CMD inside the host's root file system, as the project's tests see it on the host:
# standard PATH, HOME=/root, cwd $REPO. Exported variables pass through.
in_host_root() {
  chroot "$LAB_ROOT" /usr/bin/env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TMPDIR=/tmp \
    /bin/sh -c 'cd "${REPO:-/}" || exit 125; exec "$@"' in_host_root "$@"
}

# EAL dlopen()s every *.so and *.so.23.0 in its plugin directory (pmds-23.0, ~130 PMDs)
# at start. Over 9p under TCG that costs seconds per DPDK process, so a directory that
# holds only what is needed is bind-mounted over it:
#   - the PMDs the tests use (LAB_PMD_KEEP, computed by run-guest.sh: net_virtio,
#     net_vhost, mempool_ring and LAB_PMD_EXTRA), and
#   - the libraries of that directory that dpdk-testpmd and vhostd are linked against
#     (ld.so needs them; hiding the directory breaks the binaries).
# The entries are symlinks to the real files, reached through a second bind mount of the
# original directory, so nothing is copied and ld.so and EAL still open the same file
# (two copies of one PMD would register its driver twice). The names keep the original
# .so / .so.23 / .so.23.0 layout: EAL loads only names ending in .so or .so.23.0.
# /run must not be world-writable (a tmpfs' default mode is 1777): EAL refuses plugins
# below such a directory ("Cannot init plugins").
# Measured under TCG: testpmd forwarding after 5-11 s instead of 22 s, vhostd up after
# 4.5-12 s instead of 27 s. `run-guest.sh -e LAB_PMD_KEEP=` turns this off.
lab_minimal_pmd_dir() {
  local rel=usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0 lib
  local dir=$LAB_ROOT/$rel all=/run/lab/pmds-all min=/run/lab/pmds
  [ -d "$dir" ] && [ -n "${LAB_PMD_KEEP:-}" ] || return 0
  mkdir -p "$LAB_ROOT$all" "$LAB_ROOT$min"
  mount --bind "$dir" "$LAB_ROOT$all" || return 1
  for lib in $LAB_PMD_KEEP; do   # base names such as librte_net_virtio
    [ -f "$dir/$lib.so.23.0" ] || { lab_info "no $lib in pmds-23.0"; continue; }
    ln -s "$all/$lib.so.23.0" "$LAB_ROOT$min/$lib.so.23.0"
    ln -s "$lib.so.23.0" "$LAB_ROOT$min/$lib.so.23"
    ln -s "$lib.so.23" "$LAB_ROOT$min/$lib.so"
  done
  mount --bind "$LAB_ROOT$min" "$dir"
}

lab_prelude_setup() {
  local t0 t1 t2
  t0=$(lab_uptime)
  labmod vhost vdpa p9 || return 1
  t1=$(lab_uptime)
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot "$LAB_ROOT" \
    || return 1
  # The 9p export follows the host's mount points, so the host's /dev, /proc and /sys
  # show through; cover them with the guest's own.
  mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm || return 1
  # Keep a view of the host's /tmp before a writable tmpfs covers it: a checkout under
  # /tmp (CI clones often are) must stay visible in the guest at the same path.
  mkdir -p /run/lab/host-tmp && mount --bind "$LAB_ROOT/tmp" /run/lab/host-tmp || return 1
  mount --bind /dev "$LAB_ROOT/dev" &&
  mount -t proc proc "$LAB_ROOT/proc" &&
  mount -t sysfs sysfs "$LAB_ROOT/sys" &&
  mount -t tmpfs tmpfs "$LAB_ROOT/tmp" &&
  mount -t tmpfs -o mode=0755 tmpfs "$LAB_ROOT/run" || return 1
  case "${REPO:-}" in
    /tmp/*)
      mkdir -p "$LAB_ROOT$REPO" && mount --bind "/run/lab/host-tmp${REPO#/tmp}" "$LAB_ROOT$REPO" || return 1 ;;
  esac
  # /var/run is a symlink to /run on Debian; should it be a directory, give it a tmpfs too.
  [ -L "$LAB_ROOT/var/run" ] || mount -t tmpfs -o mode=0755 tmpfs "$LAB_ROOT/var/run" || return 1
  t2=$(lab_uptime)
  lab_minimal_pmd_dir || return 1
  ulimit -l unlimited
  lab_info "prelude timing: start=$t0 modules=$t1 hostroot=$t2 pmds=$(lab_uptime)"
}

# Runs one test script in a subshell (its `exit` ends only itself) and records it.
lab_run_script() {  # NAME FILE
  local name=$1 file=$2 t0 rc
  t0=$(lab_uptime)
  echo "LAB-SCRIPT begin $name"
  ( . "$file" )
  rc=$?
  echo "LAB-SCRIPT end $name rc=$rc seconds=$(echo "$(lab_uptime) $t0" | awk '{printf "%.1f", $1-$2}')"
  if [ $rc -ne 0 ]; then lab_fail "script:$name" "exited with status $rc"; fi
  return 0
}

# Prints the summary line and returns 0 only if no check failed and some check ran.
lab_summary() {
  local ok fail
  ok=$(grep -c '^ok ' "$LAB_RESULTS" 2>/dev/null); ok=${ok:-0}
  fail=$(grep -c '^fail ' "$LAB_RESULTS" 2>/dev/null); fail=${fail:-0}
  if [ "$fail" -eq 0 ] && [ "$ok" -gt 0 ]; then
    echo "LAB-RESULT ok passed=$ok failed=0"
    return 0
  fi
  echo "LAB-RESULT fail passed=$ok failed=$fail$(grep '^fail ' "$LAB_RESULTS" 2>/dev/null | cut -d' ' -f2- | tr '\n' ' ' | sed 's/^/ (/; s/ $/)/')"
  return 1
}

: > "$LAB_RESULTS"
if lab_prelude_setup; then
  LAB_PRELUDE_OK=1
  lab_ok prelude "uptime=$(lab_uptime)"
else
  LAB_PRELUDE_OK=0
  lab_fail prelude "guest set-up failed"
fi
fi
