#!/usr/bin/env bash
# scripts/test.sh: README command 2 — install what is missing, build, run every test with ctest.
# Data and models come from TWLA_DATA, default ../shared (read-only is fine); extra args go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${TWLA_BUILD:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" -j"${TWLA_JOBS:-$(nproc)}"
cd "$BUILD"
ctest --output-on-failure --timeout 1500 "$@"
