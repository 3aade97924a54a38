// allocators/registry.cpp: the one table of activation bit allocators, and `uniform`.
#include <cmath>

#include "allocators/allocator.h"

namespace twla {

namespace {
struct UniformConfig {
  template <class V> void visit(V&) {}
};
class UniformAllocator : public PluginShell<Allocator, UniformConfig> {
 public:
  using PluginShell::PluginShell;
  Allocation allocate(const AllocationRequest& req) const override {
    TWLA_CHECK(std::floor(req.avg_bits) == req.avg_bits && req.avg_bits >= 2 && req.avg_bits <= 16,
               "activations.bits=", req.avg_bits,
               " is not a whole number in 2..16; the uniform allocator gives every block the same "
               "width (use allocator ila-amp for fractional averages)");
    Allocation a;
    a.act_bits.assign(req.n_blocks, int(req.avg_bits));
    return a;
  }
};
}  // namespace

const Registry<Allocator>& allocators() {
  static const Registry<Allocator> r{
      "allocator",
      {plugin_entry<Allocator, UniformAllocator>("uniform", "every block at activations.bits")}};
  return r;
}

}  // namespace twla
