#!/usr/bin/env bash
# Prepares the kernel lab: a QEMU guest running Debian's own kernel, in which vhost_net,
# tun and vDPA (the vdpa_sim_net simulator) exist. CI hosts and development VMs often
# have none of these and cannot load modules, so tests for vhost-kernel and vDPA ports
# run inside such a guest instead (see README.md).
#
#   1. Installs the packages the lab needs (apt-get, as root, only what is missing).
#   2. Builds the vDPA modules out of tree: Debian's 6.1 config has CONFIG_VDPA and
#      CONFIG_VHOST_RING (vringh) off, so vdpa.ko, vringh.ko, vdpa_sim.ko,
#      vdpa_sim_net.ko, vhost_vdpa.ko and virtio_vdpa.ko are compiled from the
#      linux-source tarball against linux-headers, both pinned to the exact version of
#      the installed linux-image package so that vermagic and symbol CRCs match.
#   3. Builds a busybox initramfs holding those modules plus the ones from
#      /lib/modules/<kver> that the lab needs, grouped (base, vhost, vdpa, p9, ...),
#      and an /init that runs the test script handed in by run-guest.sh.
#   4. Extracts the uncompressed kernel (vmlinux) from /boot/vmlinuz-<kver>: booting it
#      directly saves ~4 s per guest under TCG.
#
# Everything is cached under /var/tmp/vhostd-lab/<kver>/ (or $VHOSTD_LAB_DIR) and
# rebuilt only when the kernel packages or the build recipe below change; a fully
# cached run takes well under a second. Tested with Debian 12's 6.1 kernel; another
# series may need other source files for the vDPA modules.
#
# Usage: setup.sh            install + build if needed, print the paths (KEY=VALUE)
#        setup.sh --paths    print the paths of a complete cache; never installs or
#                            builds (fails if setup.sh has to run first)
set -euo pipefail

T0=$(date +%s.%N)
MODE=${1:-}
case "$MODE" in ""|--paths) ;; *) echo "usage: $0 [--paths]" >&2; exit 2;; esac
log() { echo "lab-setup: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The modules built out of tree (Debian's kernel lacks them).
VDPA_MODULES="vdpa vringh vdpa_sim vdpa_sim_net vhost_vdpa virtio_vdpa"

installed_versions() {  # PKG... -> "PKG VERSION" lines for those installed (one dpkg call)
  dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' "$@" 2>/dev/null | awk '$1=="ii" {print $2, $3}'
}

apt_install() {  # PKG[=VERSION]...
  [ "$(id -u)" -eq 0 ] || die "missing packages: $*; run setup.sh as root (or apt-get install them)"
  log "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  local args=(-y -q --no-install-recommends --allow-downgrades)
  # Try with the current package lists first; refresh them only if that fails.
  apt-get install "${args[@]}" "$@" >&2 || { apt-get update -q >&2 && apt-get install "${args[@]}" "$@" >&2; }
}

# The kernel: the newest /boot/vmlinuz-*-amd64 that belongs to a Debian linux-image package
# (linux-image-<kver>, or its -unsigned twin; asking dpkg by name is much faster than
# `dpkg -S`, which reads every package's file list).
pick_kernel() {
  KVER= KPKG= KPKGVER=
  local f kver line
  for f in $(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -rV); do
    kver=${f#/boot/vmlinuz-}
    [ -d "/lib/modules/$kver" ] || continue
    line=$(installed_versions "linux-image-$kver" "linux-image-$kver-unsigned" | head -1)
    [ -n "$line" ] || continue
    KVER=$kver KPKG=${line% *} KPKGVER=${line#* }
    return 0
  done
  return 1
}

if ! pick_kernel; then
  [ "$MODE" = --paths ] && die "no Debian kernel in /boot; run setup.sh"
  apt_install linux-image-amd64
  pick_kernel || die "no /boot/vmlinuz-*-amd64 from a linux-image package after installing linux-image-amd64"
fi
# 6.1.0-56-amd64 -> linux-source-6.1, /usr/src/linux-source-6.1.tar.xz
KSERIES=$(echo "$KVER" | cut -d. -f1,2)
SRC_PKG=linux-source-$KSERIES
SRC_TAR=/usr/src/linux-source-$KSERIES.tar.xz
HDR_PKG=linux-headers-$KVER
KDIR=/usr/src/linux-headers-$KVER

# ---- 1. packages -------------------------------------------------------------------
# qemu-system-x86: the guest; busybox-static: the initramfs userland; kmod, cpio: build
# the initramfs; make, xz-utils + the pinned source/headers: build the vDPA modules
# (binutils: readelf checks the extracted vmlinux);
# iproute2 (the `vdpa` tool) and dpdk (dpdk-testpmd) are used inside the guest, from the
# host's root file system.
PACKAGES=(qemu-system-x86 busybox-static kmod cpio gzip xz-utils make binutils iproute2 dpdk)
declare -A have=()
while read -r p v; do have[$p]=$v; done < <(installed_versions "${PACKAGES[@]}" "$SRC_PKG" "$HDR_PKG")
missing=()
for p in "${PACKAGES[@]}"; do [ -n "${have[$p]:-}" ] || missing+=("$p"); done
for p in "$SRC_PKG" "$HDR_PKG"; do
  [ "${have[$p]:-}" = "$KPKGVER" ] || missing+=("$p=$KPKGVER")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$MODE" = --paths ] && die "missing packages: ${missing[*]}; run setup.sh"
  apt_install "${missing[@]}"
  while read -r p v; do have[$p]=$v; done < <(installed_versions "${PACKAGES[@]}" "$SRC_PKG" "$HDR_PKG")
fi

LAB_DIR=${VHOSTD_LAB_DIR:-/var/tmp/vhostd-lab/$KVER}
mkdir -p "$LAB_DIR"
exec {lock}>"$LAB_DIR/.lock"
flock "$lock"   # one builder at a time per cache directory
# Scratch directories of a build that failed half-way.
trap 'rm -rf "$LAB_DIR"/modules-build.* "$LAB_DIR"/initramfs-root.*' EXIT

# ---- 2. vDPA modules ---------------------------------------------------------------
build_modules() {  # OUT_DIR
  local out=$1 work
  work=$(mktemp -d "$LAB_DIR/modules-build.XXXXXX")
  # Extract only the 8 source files. Decompressing the ~130 MB tarball is most of the
  # time; --occurrence=1 stops reading once all of them were found (drivers/ comes
  # early), which saves about a third.
  local top=linux-source-$KSERIES
  tar -xJf "$SRC_TAR" -C "$work" --strip-components=1 --occurrence=1 \
    $top/drivers/vdpa/vdpa.c \
    $top/drivers/vdpa/vdpa_sim/vdpa_sim.c $top/drivers/vdpa/vdpa_sim/vdpa_sim.h \
    $top/drivers/vdpa/vdpa_sim/vdpa_sim_net.c \
    $top/drivers/vhost/vdpa.c $top/drivers/vhost/vhost.h $top/drivers/vhost/vringh.c \
    $top/drivers/virtio/virtio_vdpa.c
  # One flat external-module directory. Every other header these files include
  # (linux/vdpa.h, linux/vringh.h, ...) is in the linux-headers package.
  local m=$work/m
  mkdir "$m"
  cp "$work"/drivers/vdpa/vdpa.c "$work"/drivers/vdpa/vdpa_sim/vdpa_sim.[ch] \
     "$work"/drivers/vdpa/vdpa_sim/vdpa_sim_net.c "$work"/drivers/vhost/vhost.h \
     "$work"/drivers/vhost/vringh.c "$work"/drivers/virtio/virtio_vdpa.c "$m"/
  # drivers/vhost/vdpa.c builds vhost_vdpa.ko; renamed so it does not clash with vdpa.c.
  cp "$work"/drivers/vhost/vdpa.c "$m"/vhost_vdpa_main.c
  cat > "$m"/Kbuild <<'EOF'
obj-$(CONFIG_VDPA)         += vdpa.o
obj-$(CONFIG_VHOST_RING)   += vringh.o
obj-$(CONFIG_VDPA_SIM)     += vdpa_sim.o
obj-$(CONFIG_VDPA_SIM_NET) += vdpa_sim_net.o
obj-$(CONFIG_VHOST_VDPA)   += vhost_vdpa.o
vhost_vdpa-y := vhost_vdpa_main.o
obj-$(CONFIG_VIRTIO_VDPA)  += virtio_vdpa.o
EOF
  # modpost checks against the headers' Module.symvers, so CRCs match the kernel. The
  # "Skipping BTF generation" notice (no vmlinux) is harmless and filtered out.
  make -s -C "$KDIR" M="$m" -j"$(nproc)" modules \
    CONFIG_VDPA=m CONFIG_VHOST_RING=m CONFIG_VDPA_SIM=m CONFIG_VDPA_SIM_NET=m \
    CONFIG_VHOST_VDPA=m CONFIG_VIRTIO_VDPA=m 2>&1 | { grep -v '^Skipping BTF generation' || true; } >&2 \
    || die "module build failed"
  local k
  for k in $VDPA_MODULES; do
    [ "$(modinfo -F vermagic "$m/$k.ko" | cut -d' ' -f1)" = "$KVER" ] || die "$k.ko: wrong vermagic"
  done
  rm -rf "$out"; mkdir -p "$out"
  for k in $VDPA_MODULES; do cp "$m/$k.ko" "$out"/; done
  rm -rf "$work"
}

# ---- 3. initramfs ------------------------------------------------------------------
build_initramfs() {  # MODULES_DIR OUTPUT
  local vdpa_dir=$1 output=$2 root
  local moddir=/lib/modules/$KVER
  # Module groups, named by their top modules; dependencies are added automatically and
  # loaded first. `labmod GROUP` loads a group inside the guest.
  #   base:  always loaded by /init (virtio-pci transport, fw_cfg for the test script)
  #   vhost: /dev/vhost-net and /dev/net/tun (vhost-kernel ports)
  #   vdpa:  vdpa bus, the vdpa_sim_net simulator and /dev/vhost-vdpa-N (vDPA ports)
  #   virtio_vdpa: binds a vdpa device to the kernel's virtio-net instead
  #   p9:    the host's root file system over virtio-9p
  local -A groups=(
    [base]="virtio_pci virtio_net qemu_fw_cfg"
    [vhost]="tun vhost_net"
    [vdpa]="vdpa vringh vdpa_sim vdpa_sim_net vhost_vdpa"
    [virtio_vdpa]="virtio_vdpa"
    [p9]="9pnet_virtio 9p"
  )
  root=$(mktemp -d "$LAB_DIR/initramfs-root.XXXXXX")
  mkdir -p "$root"/{bin,sbin,etc/lab,proc,sys,dev,tmp,run,mnt,root,lib/modules/$KVER/extra}
  cp /bin/busybox "$root"/bin/busybox
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done

  # Copy each module with its dependencies (host modules.dep / modinfo for ours).
  local -A seen=()
  add_kmod() {
    local name=$1 line path d
    [ -n "${seen[$name]:-}" ] && return 0
    seen[$name]=1
    if [ -f "$vdpa_dir/$name.ko" ]; then
      cp "$vdpa_dir/$name.ko" "$root/lib/modules/$KVER/extra/"
      for d in $(modinfo -F depends "$vdpa_dir/$name.ko" | tr , ' '); do add_kmod "${d//-/_}"; done
      return 0
    fi
    line=$(grep -E "(^|/)${name//_/[-_]}\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | head -1) \
      || die "module $name is not in $moddir"
    path=${line%%:*}
    mkdir -p "$root/lib/modules/$KVER/$(dirname "$path")"
    cp "$moddir/$path" "$root/lib/modules/$KVER/$path"
    for d in ${line#*:}; do d=$(basename "$d"); d=${d%%.ko*}; add_kmod "${d//-/_}"; done
  }
  local g m
  for g in "${!groups[@]}"; do for m in ${groups[$g]}; do add_kmod "$m"; done; done
  cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$KVER/"
  depmod -b "$root" "$KVER"

  # Explicit insmod order per group (dependencies first), from the initramfs' modules.dep,
  # so the guest needs no modprobe logic.
  local dep=$root/lib/modules/$KVER/modules.dep
  local -A placed=()
  local order=()
  place() {
    local name=$1 line d
    [ -n "${placed[$name]:-}" ] && return 0
    line=$(grep -E "(^|/)${name//_/[-_]}\.ko(\.xz|\.zst)?:" "$dep" | head -1) || die "$name not in initramfs"
    for d in ${line#*:}; do d=$(basename "$d"); d=${d%%.ko*}; place "${d//-/_}"; done
    placed[$name]=1
    order+=("${line%%:*}")
  }
  for g in "${!groups[@]}"; do
    placed=() order=()
    for m in ${groups[$g]}; do place "$m"; done
    printf '%s\n' "${order[@]}" > "$root/etc/lab/mods.$g"
  done

  cat > "$root"/bin/labmod <<'EOF'
#!/bin/sh
# labmod GROUP...: insmod the group's modules in dependency order; skips loaded ones.
for g in "$@"; do
  [ -f /etc/lab/mods.$g ] || { echo "labmod: no module group $g" >&2; exit 1; }
  for p in $(cat /etc/lab/mods.$g); do
    n=$(basename "$p"); n=${n%%.ko*}; n=$(echo "$n" | tr - _)
    [ -d /sys/module/$n ] && continue
    insmod /lib/modules/$(uname -r)/$p || { echo "LAB-ERROR insmod $p failed" >&2; exit 1; }
  done
done
EOF
  # /init: mount the basics, load "base", run the script the host passed with
  # -fw_cfg name=opt/lab/script,file=SCRIPT, print its status as "LAB-EXIT rc=N" and
  # power off, which ends QEMU (-no-reboot; panic=-1 turns a panic into an exit too).
  cat > "$root"/init <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ip link set lo up
labmod base
echo "LAB-BOOT uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
S=/sys/firmware/qemu_fw_cfg/by_name/opt/lab/script/raw
if [ -r $S ]; then
  cat $S > /tmp/lab-script.sh
  sh /tmp/lab-script.sh
  rc=$?
else
  echo "LAB-ERROR no test script (-fw_cfg name=opt/lab/script,file=...)"
  rc=127
fi
echo "LAB-EXIT rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
# kernel command line "lab.shell": an interactive shell before power-off (debugging)
grep -q lab.shell /proc/cmdline && setsid cttyhack sh
sync
poweroff -f
EOF
  chmod +x "$root"/init "$root"/bin/labmod
  (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -6 > "$output.tmp"
  mv "$output.tmp" "$output"
  rm -rf "$root"
}

# ---- 4. uncompressed kernel -----------------------------------------------------------
# Under TCG, SeaBIOS plus the kernel's own xz decompression take ~4 s of every boot.
# QEMU boots an uncompressed vmlinux (ELF with a PVH entry note, CONFIG_PVH=y) directly,
# so extract it once from the bzImage (~1 s; ~65 MB). Falls back to the bzImage.
extract_vmlinux() {  # BZIMAGE OUTPUT
  local img=$1 out=$2 magic cmd off
  for magic in '\xfd7zXZ:xz -dc' '\x28\xb5\x2f\xfd:zstd -dc' '\x1f\x8b\x08:gzip -dc'; do
    cmd=${magic#*:}
    off=$(LC_ALL=C grep -aboP "${magic%%:*}" "$img" | head -1 | cut -d: -f1) || continue
    [ -n "$off" ] && command -v "${cmd%% *}" >/dev/null || continue
    # Trailing data after the stream (relocations) makes the decompressor complain.
    tail -c +$((off + 1)) "$img" | $cmd > "$out.tmp" 2>/dev/null || true
    # 0x12 = XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry point QEMU needs.
    if readelf -n "$out.tmp" 2>/dev/null | grep -q 'note type: (0x00000012)'; then
      mv "$out.tmp" "$out"; return 0
    fi
  done
  rm -f "$out.tmp"; return 1
}

# Cache keys: the package versions involved plus the text of the recipe functions above,
# so editing a recipe rebuilds what it produces and nothing else.
key() { sha256sum | cut -c1-16; }
MOD_KEY=$( { echo "$KVER $KPKGVER ${have[$SRC_PKG]} ${have[$HDR_PKG]} $VDPA_MODULES"
             declare -f build_modules; } | key)
INITRD_KEY=$( { echo "$MOD_KEY ${have[busybox-static]}"; declare -f build_initramfs; } | key)

MODULES_DIR=$LAB_DIR/modules
INITRD=$LAB_DIR/initramfs.cpio.gz
if [ "$(cat "$MODULES_DIR/.key" 2>/dev/null)" != "$MOD_KEY" ]; then
  [ "$MODE" = --paths ] && die "vDPA modules in $MODULES_DIR are missing or stale; run setup.sh"
  log "building vDPA modules for $KVER (about 20 s)"
  build_modules "$MODULES_DIR"
  echo "$MOD_KEY" > "$MODULES_DIR/.key"
fi
if [ "$(cat "$INITRD.key" 2>/dev/null)" != "$INITRD_KEY" ] || [ ! -f "$INITRD" ]; then
  [ "$MODE" = --paths ] && die "$INITRD is missing or stale; run setup.sh"
  log "building initramfs"
  build_initramfs "$MODULES_DIR" "$INITRD"
  echo "$INITRD_KEY" > "$INITRD.key"
fi
KERNEL=$LAB_DIR/vmlinux
if [ "$(cat "$KERNEL.key" 2>/dev/null)" != "$KPKG $KPKGVER" ]; then
  [ "$MODE" = --paths ] && die "$KERNEL is missing or stale; run setup.sh"
  log "extracting vmlinux from /boot/vmlinuz-$KVER"
  if extract_vmlinux "/boot/vmlinuz-$KVER" "$KERNEL"; then
    echo "$KPKG $KPKGVER" > "$KERNEL.key"
  else
    log "no PVH-bootable vmlinux in the bzImage; booting /boot/vmlinuz-$KVER (slower)"
    ln -sfn "/boot/vmlinuz-$KVER" "$KERNEL"; echo "$KPKG $KPKGVER" > "$KERNEL.key"
  fi
fi
[ "$MODE" = --paths ] || log "ready in $(echo "$(date +%s.%N) $T0" | awk '{printf "%.1f", $1-$2}') s (cache $LAB_DIR)"

# Shell assignments, for `eval "$(setup.sh --paths)"` (run-guest.sh does that).
cat <<EOF
LAB_KVER=$KVER
LAB_KERNEL=$KERNEL
LAB_INITRD=$INITRD
LAB_MODULES=$MODULES_DIR
LAB_DIR=$LAB_DIR
EOF
