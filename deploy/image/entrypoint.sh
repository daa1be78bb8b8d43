#!/bin/bash
# The image's entrypoint: execs vhostd with the arguments given. When none of them is
# --cores and VHOSTD_POLLING_CORES=N is set, the last N CPUs of the container's CPU set
# poll and the others run the control threads: under the kubelet's static CPU manager a
# Guaranteed pod gets exclusive CPUs whose numbers the manifest cannot know in advance.
set -euo pipefail

# "0-2,5" -> "0 1 2 5"
expand_cpu_list() {
  local part first last cpu out=()
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    first=${part%-*}
    last=${part#*-}
    for ((cpu = first; cpu <= last; cpu++)); do out+=("$cpu"); done
  done
  echo "${out[@]}"
}

polling_cpus() {
  local count=$1 allowed cpus
  if ! [[ "$count" =~ ^[1-9][0-9]*$ ]]; then
    echo "vhostd entrypoint: VHOSTD_POLLING_CORES: want a number of CPUs >= 1, got \"$count\"" >&2
    return 2
  fi
  allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
  read -ra cpus <<<"$(expand_cpu_list "$allowed")"
  if ((count > ${#cpus[@]})); then
    echo "vhostd entrypoint: VHOSTD_POLLING_CORES: $count CPUs asked, the container has ${#cpus[@]} ($allowed)" >&2
    return 2
  fi
  local IFS=,
  echo "${cpus[*]: -count}"
}

args=("$@")
cores_given=false
for arg in "${args[@]}"; do
  case "$arg" in --cores | --cores=*) cores_given=true ;; esac
done
if [ -n "${VHOSTD_POLLING_CORES:-}" ] && [ "$cores_given" = false ]; then
  cpus=$(polling_cpus "$VHOSTD_POLLING_CORES") || exit 2
  echo "vhostd entrypoint: polling on CPUs $cpus (VHOSTD_POLLING_CORES=$VHOSTD_POLLING_CORES)" >&2
  args=("--cores=$cpus" "${args[@]}")
fi
exec /usr/lib/vhostd/vhostd "${args[@]}"
