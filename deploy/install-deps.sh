#!/usr/bin/env bash
# Installs the Debian 12 packages vhostd needs to build, run and test. Idempotent: does
# nothing when everything is present. Needs root (apt-get) only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap bazel-platforms bazel-rules-java g++ pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libabsl-dev
  libdpdk-dev dpdk-dev prometheus-cpp-dev libcivetweb-dev libgtest-dev libgmock-dev libcli11-dev
  libnl-route-3-dev
  # fuzzing: libFuzzer, ASan and UBSan (tests/fuzz/run.sh)
  clang-14 libclang-rt-14-dev
  nlohmann-json3-dev libssl-dev
  # run and test: DPDK's testpmd as vhost-user frontend, Python gRPC clients, Prometheus
  dpdk python3-grpcio python3-protobuf python3-prometheus-client prometheus
  iproute2 iputils-ping curl procps ethtool openssl util-linux
  # deploy tests: manifests checked offline (Kubernetes models, JSON Schema), the image
  # built (debootstrap) and run (podman with runc)
  python3-yaml python3-jsonschema python3-kubernetes podman runc debootstrap
  # vhostd-cni tests: Debian's reference CNI plugins (host-local IPAM)
  containernetworking-plugins
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or apt-get install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
