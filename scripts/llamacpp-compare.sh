#!/usr/bin/env bash
# scripts/llamacpp-compare.sh: llama.cpp's TQ2_0 mat-vec (ggml CPU backend, test-backend-ops perf
# mode) beside twla's tq2 CPU kernels (`twla bench kernels`) at 16384 x 16384, batch 1/4/16, same
# machine, same session, same thread count. Fetches nothing: point LLAMACPP_SRC at an unpacked
# llama.cpp or ggml source tree OUTSIDE this repo (both carry tests/test-backend-ops.cpp); the
# script patches that copy with scripts/llamacpp-tq2.patch (adds the 16384^2 cases and a
# TBO_N_THREADS switch), builds test-backend-ops in LLAMACPP_BUILD and runs both benches.
# Env: LLAMACPP_SRC (required), LLAMACPP_BUILD (default: $LLAMACPP_SRC-build),
#      LLAMACPP_COMMIT (recorded when the tree has no .git), THREADS (2), BATCHES (1,4,16),
#      MIN_TIME (twla seconds per kernel, 1), OUT (folder for the logs and compare.json,
#      default /tmp/twla-llamacpp-<time>), TWLA (default build/twla), JOBS (build jobs, 2).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
die() { echo "llamacpp-compare: $*" >&2; exit 2; }

SRC=${LLAMACPP_SRC:-}
[ -n "$SRC" ] || die "set LLAMACPP_SRC to a llama.cpp (or ggml) source tree outside this repo"
SRC=$(cd "$SRC" && pwd) || die "LLAMACPP_SRC=$LLAMACPP_SRC is not a folder"
case "$SRC/" in "$REPO"/*) die "LLAMACPP_SRC=$SRC is inside the twla repo; unpack it elsewhere" ;; esac
TBO="$SRC/tests/test-backend-ops.cpp"
[ -f "$TBO" ] || die "$TBO not found: LLAMACPP_SRC must be the root of a llama.cpp or ggml tree"
BUILD=${LLAMACPP_BUILD:-$SRC-build}
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-1,4,16}
MIN_TIME=${MIN_TIME:-1}
TWLA=${TWLA:-build/twla}
OUT=${OUT:-/tmp/twla-llamacpp-$(date +%Y%m%d-%H%M%S)}
[ -x "$TWLA" ] || die "$TWLA not built (ninja -C build), or set TWLA"
[[ "$BATCHES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "BATCHES=$BATCHES must be a comma list like 1,4,16"
for b in ${BATCHES//,/ }; do
  case $b in 1 | 4 | 16) ;; *) die "BATCHES: $b has no llama.cpp case in scripts/llamacpp-tq2.patch (1, 4, 16)" ;; esac
done
mkdir -p "$OUT"

# 1. Patch the copy (once) and build only test-backend-ops, CPU only, Release.
if ! grep -q tbo_n_threads "$TBO"; then
  patch -d "$SRC" -p1 --forward < scripts/llamacpp-tq2.patch ||
    die "scripts/llamacpp-tq2.patch does not apply to $TBO (newer upstream?): refresh the patch"
fi
if [ -d "$SRC/.git" ]; then COMMIT=$(git -C "$SRC" rev-parse HEAD); else COMMIT=${LLAMACPP_COMMIT:-unknown}; fi
if [ -f "$SRC/src/llama.cpp" ]; then  # llama.cpp tree (ggml vendored under ggml/)
  FLAVOUR=llama.cpp; EXTRA=(-DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF)
else
  FLAVOUR=ggml; EXTRA=(-DGGML_BUILD_TESTS=ON -DGGML_BUILD_EXAMPLES=OFF)
fi
echo "llamacpp-compare: $FLAVOUR tree $SRC, commit $COMMIT, build $BUILD"
nice cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
  -DBUILD_SHARED_LIBS=OFF "${EXTRA[@]}" > "$OUT/cmake.log" || die "cmake failed, see $OUT/cmake.log"
nice cmake --build "$BUILD" --target test-backend-ops -j"${JOBS:-2}" > "$OUT/build.log" ||
  die "building test-backend-ops failed, see $OUT/build.log"
BIN=$(find "$BUILD" -name test-backend-ops -type f -perm -u+x | head -1)
[ -n "$BIN" ] || die "no test-backend-ops binary under $BUILD"

# 2. Both benches back to back, same thread count; the load is recorded around each.
echo "load before: $(cat /proc/loadavg)" | tee "$OUT/load.txt"
TBO_N_THREADS=$THREADS OMP_NUM_THREADS=$THREADS "$BIN" perf -o MUL_MAT -b CPU \
  -p "m=16384,n=(${BATCHES//,/|}),k=16384," > "$OUT/llamacpp.txt" 2>&1 ||
  die "test-backend-ops perf failed, see $OUT/llamacpp.txt"
echo "load between: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"
"$TWLA" bench kernels --shape 16384x16384 --batch "$BATCHES" --threads "$THREADS" --min-time "$MIN_TIME" \
  --json "$OUT/twla.json" > "$OUT/twla.txt" 2>&1 || die "twla bench kernels failed, see $OUT/twla.txt"
echo "load after: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"

# 3. One table.
python3 scripts/llamacpp_table.py --llamacpp "$OUT/llamacpp.txt" --twla "$OUT/twla.json" \
  --load "$OUT/load.txt" --commit "$COMMIT" --flavour "$FLAVOUR" --threads "$THREADS" --json "$OUT/compare.json"
echo "logs and compare.json in $OUT"
