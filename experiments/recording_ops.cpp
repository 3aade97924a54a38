// experiments/recording_ops.cpp: see recording_ops.h.
#include "experiments/recording_ops.h"

#include "core/error.h"

namespace twla {

RecordingOps::RecordingOps(const Rotation& rot, const std::vector<std::string>& group, bool need_s,
                           bool compat, bool share)
    : rot_(rot), compat_(compat), share_(share) {
  for (const auto& n : group) {
    acc_[n];
    if (need_s) s_[n];
  }
}

Tensor RecordingOps::linear(const std::string& name, const Tensor& x0, const Tensor& W) const {
  Tensor x = rot_.input(name, x0);
  if (acc_.count(name)) record(name, x);
  return at::matmul(x, W.t());
}

const std::string& RecordingOps::owner(const std::string& name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? name : it->second;
}

int RecordingOps::shared() const {
  int n = 0;
  for (const auto& [name, o] : owner_) n += o != name;
  return n;
}

void RecordingOps::record(const std::string& name, const Tensor& x) const {
  const bool same = share_ && prev_x_.defined() && prev_x_.sizes() == x.sizes() && at::equal(prev_x_, x);
  const std::string o = same ? owner(prev_name_) : name;
  auto [it, fresh] = owner_.emplace(name, o);
  TWLA_ASSERT(fresh || it->second == o, "calibration: the input of '", name,
              "' equalled another linear's in one forward batch but not in another");
  prev_x_ = x;
  prev_name_ = name;
  if (o != name) return;   // the owner's sums are this linear's sums
  HessianAccumulator& h = acc_.at(name);
  auto si = s_.find(name);
  for (int64_t s = 0; s < x.size(0); ++s) {   // one call per sequence, as the references' hooks
    Tensor xs = x[s].contiguous();
    hessian_add_batch(h, xs, compat_);
    if (si != s_.end()) s_blocks_add(si->second, xs);
  }
}

LayerStats RecordingOps::stats(const std::string& name) const {
  const std::string& o = owner(name);
  LayerStats st;
  const auto& a = acc_.at(o);
  st.H = o != name ? a.H.clone() : a.H;   // a tensor of its own for each quantizer, as unshared
  st.n_seq = a.n_seq;
  st.n_tokens = a.n_tokens;
  auto si = s_.find(o);
  if (si != s_.end()) st.S_blocks = s_blocks_finish(si->second);   // fresh tensors per call
  return st;
}

}  // namespace twla
