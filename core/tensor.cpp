// core/tensor.cpp: see tensor.h.
#include "core/tensor.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <sstream>

#include "core/error.h"

namespace twla {

std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "<undefined>";
  return shape_str(t.sizes()) + " " + std::string(c10::toString(t.scalar_type()));
}

float max_abs(const Tensor& t) {
  return t.numel() ? t.abs().max().item<float>() : 0.f;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  TWLA_ASSERT(a.sizes() == b.sizes(), shape_str(a.sizes()), " vs ", shape_str(b.sizes()));
  return a.numel() ? (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() : 0.f;
}

void check_shape(const Tensor& t, at::IntArrayRef shape, const std::string& what) {
  TWLA_CHECK(t.sizes() == shape, what, " has shape ", shape_str(t.sizes()), ", expected ",
             shape_str(shape));
}

void set_threads(int n) {
  if (n <= 0) return;
  at::set_num_threads(n);
  // ATen's GEMMs run inside OpenBLAS, whose pthread pool ignores at::set_num_threads; left at
  // the core count its idle workers spun in sched_yield (a third of the time in sys on 2 cores).
  using SetFn = void (*)(int);
  if (auto f = reinterpret_cast<SetFn>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}
int get_threads() { return at::get_num_threads(); }

}  // namespace twla
