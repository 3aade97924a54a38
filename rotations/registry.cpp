// rotations/registry.cpp: the one table of rotations, and the identity rotation `none`.
#include "rotations/rotation.h"

namespace twla {

namespace {
struct NoneConfig {
  template <class V> void visit(V&) {}
};
class NoRotation : public PluginShell<Rotation, NoneConfig> {
 public:
  using PluginShell::PluginShell;
  bool is_identity() const override { return true; }
  Tensor weight(const std::string&, const Tensor& W) const override { return W; }
  Tensor input(const std::string&, const Tensor& x) const override { return x; }
};
}  // namespace

const Registry<Rotation>& rotations() {
  static const Registry<Rotation> r{
      "rotation",
      {plugin_entry<Rotation, NoRotation>("none", "identity: no rotation")}};
  return r;
}

}  // namespace twla
