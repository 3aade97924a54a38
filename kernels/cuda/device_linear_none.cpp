// kernels/cuda/device_linear_none.cpp: device_linear.h for a build without nvcc: no device linear
// can be made, and every entry point says so (device_linear.cu is the real one).
#include <stdexcept>

#include "kernels/cuda/device_linear.h"

namespace twla::kernels::cuda {

std::string device_status() {
  return "this twla was built without CUDA (nvcc was not found when CMake configured it; install the CUDA "
         "toolkit and reconfigure, or use backend: kernel for the CPU kernels)";
}

std::unique_ptr<DeviceLinear> make_device_linear(const std::string&, const uint8_t*, size_t) {
  throw std::runtime_error(device_status());
}

}  // namespace twla::kernels::cuda
