#!/usr/bin/env bash
# scripts/gpu-check.sh: build and run tq2_cuda_check (kernels/cuda/standalone_main.cu) on a GPU
# machine: it validates every tq2 and e2m CUDA kernel against the CPU references, then times them against
# cuBLAS fp16 and a device-to-device copy. Needs only nvcc and cuBLAS (no libtorch, no CMake tree).
# cuBLAS comes from the CUDA toolkit, else from the Python torch install's nvidia/cublas folder.
# Env: OUT (folder: JSON written there), ARCH (e.g. sm_90; default: the GPU's), QUICK=1 (smaller).
# Exit status: the binary's (0 valid, 1 validation failure, 2 CUDA error), or 3 for a build problem.
set -euo pipefail
cd "$(dirname "$0")/.."

NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "gpu-check: nvcc not found (set NVCC)"; exit 3; }
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
if [ -z "${ARCH:-}" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .' || true)
  ARCH=sm_${cap:-90}
fi

BLAS_FLAGS=(-lcublas)
if ! ls "$CUDA_HOME"/lib64/libcublas.so* >/dev/null 2>&1 || [ ! -f "$CUDA_HOME/include/cublas_v2.h" ]; then
  dir=$(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__))' 2>/dev/null || true)
  if [ -z "$dir" ]; then
    echo "gpu-check: no cuBLAS in $CUDA_HOME and no python nvidia.cublas"; exit 3
  fi
  lib=$(ls "$dir"/lib/libcublas.so* | head -1)
  BLAS_FLAGS=(-I"$dir/include" -L"$dir/lib" "-l:$(basename "$lib")" -Xlinker "-rpath=$dir/lib")
  echo "gpu-check: cuBLAS from $dir"
fi

mkdir -p build-gpu
echo "gpu-check: building for $ARCH with $NVCC"
"$NVCC" -std=c++17 -O2 -arch="$ARCH" -I. -o build-gpu/tq2_cuda_check \
  kernels/cuda/standalone_main.cu kernels/cuda/tq2_gemv.cu kernels/cuda/tq2_gemm.cu kernels/cuda/e2m_gemv.cu \
  kernels/tq2_pack.cpp kernels/tq2_ref.cpp kernels/e2m_pack.cpp kernels/e2m_ref.cpp "${BLAS_FLAGS[@]}" || exit 3

args=()
[ "${QUICK:-0}" = 1 ] && args+=(--quick)
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; args+=(--json "$OUT/tq2_cuda.json"); fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
exec ./build-gpu/tq2_cuda_check "${args[@]}"
