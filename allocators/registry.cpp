// allocators/registry.cpp: the one table of activation bit allocators, and `uniform`.
#include <cmath>

#include "allocators/allocator.h"
#include "allocators/ila_amp.h"
#include "allocators/lac_model.h"

namespace twla {

int uniform_bits(double avg_bits) {
  TWLA_CHECK(std::floor(avg_bits) == avg_bits && avg_bits >= 2 && avg_bits <= 16,
             "activations.bits=", avg_bits,
             " is not a whole number in 2..16; the uniform allocator gives every block the same "
             "width (use allocator ila-amp for fractional averages)");
  return int(avg_bits);
}

namespace {
struct UniformConfig {
  std::string clip = "fixed";
  LacConfig lac;
  template <class V> void visit(V& v) {
    v("clip", clip, "fixed (activations.clip everywhere) or lac (per-linear clip search)");
    v("lac", lac, "LAC clip search (clip: lac)");
  }
};
class UniformAllocator : public PluginShell<Allocator, UniformConfig> {
 public:
  UniformAllocator(std::string name, UniformConfig cfg) : PluginShell(std::move(name), std::move(cfg)) {
    TWLA_CHECK(cfg_.clip == "fixed" || cfg_.clip == "lac", "activations.allocator.clip='", cfg_.clip,
               "'; use fixed or lac");
    check_lac_config(cfg_.lac, "activations.allocator.lac");
  }
  void check(int n_blocks, double avg_bits) const override { uniform_bits(avg_bits); }
  Allocation allocate(const AllocationRequest& req, AllocationReport* rep) const override {
    Allocation a;
    a.act_bits.assign(size_t(req.n_blocks), uniform_bits(req.avg_bits));
    if (cfg_.clip == "lac" && a.act_bits.size() && a.act_bits[0] < 16) {
      TWLA_CHECK(req.ctx, "activations.allocator.clip=lac needs the run's model and data; run it "
                 "through `twla run`");
      apply_lac_clips(*req.ctx, cfg_.lac, req.default_clip, a, rep);
    }
    return a;
  }
};
}  // namespace

const Registry<Allocator>& allocators() {
  static const Registry<Allocator> r{
      "allocator",
      {plugin_entry<Allocator, UniformAllocator>("uniform", "every block at activations.bits"),
       ila_amp_entry()}};
  return r;
}

}  // namespace twla
