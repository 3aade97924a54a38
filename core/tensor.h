// core/tensor.h: the tensor vocabulary of twla. W is [oc, ic] and y = x W^T (ALGORITHMS.md).
// We use ATen (libtorch's tensor library) on CPU in fp32 unless a function says otherwise.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace twla {

using Tensor = at::Tensor;

// "[32, 256] f32" — for error messages and logs.
std::string describe(const Tensor& t);
std::string shape_str(at::IntArrayRef shape);
float max_abs(const Tensor& t);
float max_abs_diff(const Tensor& a, const Tensor& b);
// Throws twla::Error if t is not of the given shape, naming `what`.
void check_shape(const Tensor& t, at::IntArrayRef shape, const std::string& what);
// Sets the intra-op thread count for ATen (and OpenMP/OpenBLAS below it).
void set_threads(int n);
int get_threads();

}  // namespace twla
