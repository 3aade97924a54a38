#!/usr/bin/env bash
# scripts/gpu-check.sh: the one script a lent GPU machine runs (docs/PERFORMANCE.md, "GPU").
#   standalone (default): build tq2_cuda_check with nvcc alone (kernels/cuda/standalone_main.cu:
#              validates every tq2/e2m CUDA kernel against the CPU references, then times them
#              against cuBLAS fp16 and a device-to-device copy) and run it.      ~1-2 min
#   cmake:     configure this CMake tree against the machine's libtorch (python3's torch), build
#              (ninja), run the tests that need no ../shared data (ctest -R '^kernels$': the CUDA
#              device linears against the CPU kernels among them), the CMake-built tq2_cuda_check
#              --quick --no-bench through `twla bench kernels --cuda`, and with GPU_DATA the kernel-backend tests (CPU and CUDA on
#              stories260K: logits, WikiText-2 perplexity within 0.5%).            ~4-6 min on 16 cores
#   full:      standalone, then cmake (may pass the run tool's 600 s: there, two calls).
#   build:     only build the standalone binary (e.g. on the CPU machine, to carry it).
# Env: OUT (results folder; default build-gpu/out), ARCH (e.g. sm_90; default: the GPU's),
#      QUICK=1 (fewer shapes), SANITIZE=1 (then compute-sanitizer memcheck of the --quick
#      validation), JOBS (default nproc), NVCC, TORCH_PREFIX (libtorch's CMake prefix),
#      FULL_TARGETS (default "all tq2_cuda_check"), NINJA_TIMEOUT (default 420 s), CMAKE_DIR
#      (default build-gpu/cmake), CMAKE_ARGS (more -D flags), CHECK_TIMEOUT (default 420 s),
#      GPU_DATA (default build-gpu-data: stories260K, C4 and WikiText-2 copied from ../shared and
#      carried; then cmake also runs the `backend: kernel-cuda` tests of test_experiments).
# gnuplot plots switch themselves off where gnuplot-iostream is missing (cmake/deps.cmake); CMake 4
# refuses projects asking for < 3.5, hence CMAKE_POLICY_VERSION_MINIMUM for libtorch's config files.
# Writes to OUT: summary.txt (one line per step: name, status, seconds), tq2_cuda.json (every
# verdict and timing), tq2_cuda_check.log, nvcc.log, and with cmake: cmake.log, ninja.log,
# ctest.log (with the cuda_backend step appended), cmake_cuda_check.log (8 files: what the run tool brings back). Exit status: 0 when
# every step passed, else the number of failed steps (at most 9).
# A binary built earlier (build-gpu/tq2_cuda_check with a .stamp matching the sources and ARCH) is
# used as is: build it on the CPU machine with `ARCH=sm_90 scripts/gpu-check.sh build` and carry
# build-gpu/tq2_cuda_check and build-gpu/tq2_cuda_check.stamp.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
MODE=${1:-standalone}
case "$MODE" in standalone | cmake | full | build) ;; *)
  echo "usage: scripts/gpu-check.sh [standalone|cmake|full|build]"; exit 2 ;;
esac
OUT=${OUT:-build-gpu/out}
GPU_DATA=${GPU_DATA:-build-gpu-data}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT" build-gpu
: >"$OUT/summary.txt"
failed=0
T0=$(date +%s)

# step NAME STATUS SECONDS: one summary line; a failed step counts.
step() {
  printf '%-22s %-8s %5ss\n' "$1" "$2" "$3" | tee -a "$OUT/summary.txt"
  [ "$2" = ok ] || [ "$2" = skipped ] || failed=$((failed + 1))
}
# run_step NAME LOG TIMEOUT CMD...: runs CMD (a program; TIMEOUT "-": also a shell function, no
# limit) with output to LOG (+LOG: appended) and the console; one summary line.
run_step() {
  local name=$1 log=$2 limit=$3 t rc tee_args=()
  t=$(date +%s)
  shift 3
  case "$log" in +*) log=${log#+}; tee_args=(-a) ;; esac
  if [ "$limit" = - ]; then "$@" 2>&1 | tee "${tee_args[@]}" "$log"; else timeout "$limit" "$@" 2>&1 | tee "${tee_args[@]}" "$log"; fi
  rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then step "$name" ok $(($(date +%s) - t))
  elif [ "$rc" = 124 ]; then step "$name" timeout $(($(date +%s) - t))
  else step "$name" "rc=$rc" $(($(date +%s) - t)); fi
  return "$rc"
}

NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "gpu-check: nvcc not found (set NVCC)"; step nvcc missing 0; exit 1; }
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
if [ -z "${ARCH:-}" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .' || true)
  ARCH=sm_${cap:-90}
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null \
  | tee -a "$OUT/summary.txt" || true

# cuBLAS: the toolkit's, else the Python torch install's nvidia/cublas. Both go on the loader path
# (a binary built elsewhere finds its libcublas.so.13 either way).
BLAS_FLAGS=(-lcublas -Xlinker "-rpath=$CUDA_HOME/lib64")
pydir=$(python3 -c 'import nvidia.cublas; print(list(nvidia.cublas.__path__)[0])' 2>/dev/null || true)
[ -n "$pydir" ] && [ -d "$pydir/lib" ] && export LD_LIBRARY_PATH="$pydir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! ls "$CUDA_HOME"/lib64/libcublas.so* >/dev/null 2>&1 || [ ! -f "$CUDA_HOME/include/cublas_v2.h" ]; then
  lib=$(ls "$pydir"/lib/libcublas.so* 2>/dev/null | head -1)
  if [ -z "$pydir" ] || [ -z "$lib" ]; then
    echo "gpu-check: no cuBLAS in $CUDA_HOME and no python nvidia.cublas"; step cublas missing 0; exit 1
  fi
  BLAS_FLAGS=(-I"$pydir/include" -L"$pydir/lib" "-l:$(basename "$lib")" -Xlinker "-rpath=$pydir/lib")
  echo "gpu-check: cuBLAS from $pydir"
fi

# --- standalone: nvcc only, one object per source in parallel, then link.
SRCS=(kernels/cuda/standalone_main.cu kernels/cuda/e2m_check.cu kernels/cuda/e2m_problem.cpp
      kernels/cuda/tq2_gemv.cu kernels/cuda/tq2_gemm.cu kernels/cuda/e2m_gemv.cu kernels/cuda/e2m_gemm.cu
      kernels/tq2_pack.cpp kernels/tq2_ref.cpp kernels/e2m_pack.cpp kernels/e2m_ref.cpp)
BIN=build-gpu/tq2_cuda_check
STAMP=$( (echo "$ARCH"; cat "${SRCS[@]}" kernels/cuda/*.h kernels/*.h) | sha256sum | cut -c1-16)
build_standalone() {
  mkdir -p build-gpu/obj
  printf '%s\n' "${SRCS[@]}" | xargs -P "$JOBS" -I{} sh -c \
    'o=build-gpu/obj/$(echo "$1" | tr / _).o; "$2" -std=c++17 -O2 -arch="$3" -I. -c "$1" -o "$o" || exit 255' \
    _ {} "$NVCC" "$ARCH" || return 1
  "$NVCC" -arch="$ARCH" -o "$BIN" build-gpu/obj/*.o "${BLAS_FLAGS[@]}" && echo "$STAMP" >"$BIN.stamp"
}
if [ "$MODE" = cmake ]; then
  :
elif [ -x "$BIN" ] && [ "$(cat "$BIN.stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "gpu-check: $BIN is up to date with the sources ($ARCH), not rebuilt" | tee "$OUT/nvcc.log"
  step nvcc_build skipped 0
else
  rm -f "$BIN" "$BIN.stamp" build-gpu/obj/*.o
  echo "gpu-check: building $BIN for $ARCH with $NVCC ($JOBS jobs)"
  run_step nvcc_build "$OUT/nvcc.log" - build_standalone || { [ "$MODE" = build ] && exit 1; }
fi
[ "$MODE" = build ] && exit "$failed"

if [ "$MODE" != cmake ] && [ -x "$BIN" ]; then
  args=(--json "$OUT/tq2_cuda.json")
  [ "${QUICK:-0}" = 1 ] && args+=(--quick)
  run_step tq2_cuda_check "$OUT/tq2_cuda_check.log" "${CHECK_TIMEOUT:-420}" "$BIN" "${args[@]}"
  if [ "${SANITIZE:-0}" = 1 ]; then  # out-of-bounds / misaligned accesses in the validation runs
    san=$(command -v compute-sanitizer || echo "$CUDA_HOME/compute-sanitizer/compute-sanitizer")
    run_step memcheck "$OUT/memcheck.log" "${SANITIZE_TIMEOUT:-300}" "$san" --tool memcheck \
      --error-exitcode 3 "$BIN" --quick --no-bench
  fi
fi

# --- cmake: the CMake tree against python3's libtorch.
if [ "$MODE" = full ] || [ "$MODE" = cmake ]; then
  TORCH_PREFIX=${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)}
  B=${CMAKE_DIR:-build-gpu/cmake}
  cap=${ARCH#sm_}
  # shellcheck disable=SC2086  # CMAKE_ARGS is a list of flags
  if run_step cmake_configure "$OUT/cmake.log" 300 cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DCMAKE_CUDA_ARCHITECTURES="$cap" -DCMAKE_CUDA_COMPILER="$NVCC" \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 ${CMAKE_ARGS:-}; then
    # shellcheck disable=SC2086  # FULL_TARGETS is a list of targets
    run_step ninja_build "$OUT/ninja.log" "${NINJA_TIMEOUT:-420}" ninja -C "$B" -j"$JOBS" ${FULL_TARGETS:-all tq2_cuda_check} &&
      run_step ctest_kernels "$OUT/ctest.log" 600 ctest --test-dir "$B" -R '^kernels$' --output-on-failure &&
      run_step cmake_cuda_check "$OUT/cmake_cuda_check.log" 300 "$B/twla" bench kernels --cuda --quick --no-bench
    # backend: kernel-cuda on stories260K (needs the carried data folder; log appended to ctest.log)
    if [ -d "$GPU_DATA/models/stories260K" ] && [ -x "$B/tests/test_experiments" ]; then
      run_step cuda_backend "+$OUT/ctest.log" 300 env TWLA_DATA="$GPU_DATA" "$B/tests/test_experiments" "kernel backend*"
    else
      step cuda_backend skipped 0
    fi
  else
    grep -iE "could not find|not found|error" "$OUT/cmake.log" | head -20
  fi
fi
echo "gpu-check: $MODE done in $(($(date +%s) - T0)) s, $failed failed step(s); results in $OUT" | tee -a "$OUT/summary.txt"
exit $((failed > 9 ? 9 : failed))
