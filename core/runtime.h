// core/runtime.h: process-wide settings that must be chosen before libraries read their
// environment (libgomp, OpenBLAS), and what was chosen, for run provenance.
#pragma once
#include <string>

namespace twla {

// Sets environment variables that the process's libraries read when they load, unless the user
// set them: OMP_WAIT_POLICY=PASSIVE (libgomp spin-waits otherwise) and, where OpenBLAS's CPU
// detection fell back to its generic SSE3 "Prescott" kernels on a CPU with AVX2+FMA (new Xeons
// behind a hypervisor report an unknown model), OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell. Returns true when it
// changed something: the caller then re-executes itself so the libraries see the new values.
bool prepare_process_env();

// OpenBLAS's kernel family in use ("Haswell", "Prescott", ...), or "unknown".
std::string blas_core_name();

}  // namespace twla
