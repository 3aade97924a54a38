#!/usr/bin/env bash
# scripts/quickstart.sh: README command 1 — install, build, run experiments/quickstart.yaml on
# stories260K and print its table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${TWLA_BUILD:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" -j"${TWLA_JOBS:-$(nproc)}" twla
OUT=${TWLA_RUNS:-runs}
"$BUILD"/twla run experiments/quickstart.yaml --out "$OUT/quickstart" "$@"
"$BUILD"/twla report "$OUT/quickstart"
