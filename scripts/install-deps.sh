#!/usr/bin/env bash
# scripts/install-deps.sh: installs every Debian 12 package twla builds, tests and plots with.
# Not here: the GPU machine's set-up (scripts/gpu-check.sh builds there with what it has).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
# slurm-wlm + munge: the Slurm sweep test starts a throwaway cluster (tests/slurm).
pkgs=(cmake g++ ninja-build ccache pkg-config git slurm-wlm munge
      libtorch-dev libboost-program-options-dev libhdf5-dev libopenblas-dev libabsl-dev
      catch2 libgnuplot-iostream-dev gnuplot-nox libsentencepiece-dev libyaml-cpp-dev
      nlohmann-json3-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
