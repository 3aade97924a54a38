// rotations/registry.cpp: the one table of rotations and their thin plugin shells: `none` (the
// identity), `hadamard` (hadamard.h) and `kotms` (kotms.h). No algorithm lives here.
#include <iterator>
#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "rotations/hadamard.h"
#include "rotations/kotms.h"
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

struct HadamardConfig {
  int64_t seed = 0;
  template <class V> void visit(V& v) { v("seed", seed, "seed of the random signs D (and of any fallback)"); }
};
// Q = H_n D / sqrt(n) depends only on n = ic, so plans are shared by size and built on first use.
class HadamardRotation : public PluginShell<Rotation, HadamardConfig> {
 public:
  using PluginShell::PluginShell;
  bool is_identity() const override { return false; }
  void prepare(const LinearRef& layer) override {
    auto p = plan(layer.W.size(1));
    std::lock_guard<std::mutex> lock(mu_);
    by_linear_[layer.name] = p;
  }
  Tensor weight(const std::string&, const Tensor& W) const override {
    return hadamard_apply(*plan(W.size(1)), W);  // rows of W: W Q
  }
  Tensor input(const std::string&, const Tensor& x) const override {
    return hadamard_apply(*plan(x.size(-1)), x);
  }
  std::map<std::string, double> stats(const std::string& linear) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_linear_.find(linear);
    if (it == by_linear_.end()) return {};
    const HadamardPlan& p = *it->second;
    return {{"n", double(p.n)}, {"m", double(p.m)}, {"fallback", p.fallback ? 1.0 : 0.0}};
  }
  std::vector<std::string> notes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [n, p] : by_size_)
      out.push_back("hadamard n=" + std::to_string(n) + ": " +
                    (p->fallback ? "no Hadamard construction; seeded random orthogonal matrix"
                                 : p->construction + " x 2^k FWHT"));
    return out;
  }

 private:
  std::shared_ptr<const HadamardPlan> plan(int64_t n) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto& p = by_size_[n];
    if (!p) p = make_hadamard_plan(n, uint64_t(cfg_.seed));
    return p;
  }
  mutable std::mutex mu_;
  mutable std::map<int64_t, std::shared_ptr<const HadamardPlan>> by_size_;
  std::map<std::string, std::shared_ptr<const HadamardPlan>> by_linear_;
};

// The order of KOTMS's per-linear stats in its "stats" state tensor.
const char* const kKotmsStats[] = {"l", "r", "steps", "loss_before", "loss_after", "seconds", "ortho_err_C", "ortho_err_B"};

// One trained C (x) B per linear; prepare() trains, weight()/input() apply.
class KotmsRotation : public PluginShell<Rotation, KotmsConfig> {
 public:
  using PluginShell::PluginShell;
  bool is_identity() const override { return false; }
  void prepare(const LinearRef& layer) override {
    KotmsResult r = kotms_train(layer.W, cfg_);
    Layer L;
    L.C = r.C.to(at::kFloat).contiguous();
    L.B = r.B.to(at::kFloat).contiguous();
    L.curve = r.losses;
    auto ortho = [](const Tensor& O) {
      return double(max_abs(O.t().mm(O) - at::eye(O.size(0), O.options())));
    };
    L.stats = {{"l", double(r.l)},
               {"r", double(r.r)},
               {"steps", double(cfg_.steps)},
               {"loss_before", r.losses.front()},
               {"loss_after", r.losses.back()},
               {"seconds", r.seconds},
               {"ortho_err_C", ortho(r.C)},
               {"ortho_err_B", ortho(r.B)}};
    std::lock_guard<std::mutex> lock(mu_);
    layers_[layer.name] = std::make_shared<const Layer>(std::move(L));
  }
  Tensor weight(const std::string& linear, const Tensor& W) const override {
    auto L = get(linear);
    return kron_rotate(W, L->C, L->B);
  }
  Tensor input(const std::string& linear, const Tensor& x) const override {
    auto L = get(linear);
    return kron_rotate(x, L->C, L->B);
  }
  // C and B; also the training's stats and loss curve (float64), so a rotation restored from a
  // packed model or the stage cache reports what its training did.
  std::map<std::string, Tensor> state(const std::string& linear) const override {
    auto L = get(linear);
    std::map<std::string, Tensor> s{{"C", L->C}, {"B", L->B}};
    if (!L->stats.empty()) {
      Tensor st = at::empty({int64_t(std::size(kKotmsStats))}, at::kDouble);
      for (size_t i = 0; i < std::size(kKotmsStats); ++i) st[int64_t(i)] = L->stats.at(kKotmsStats[i]);
      s["stats"] = st;
    }
    if (!L->curve.empty())
      s["loss_curve"] = at::tensor(at::ArrayRef<double>(L->curve), at::TensorOptions().dtype(at::kDouble));
    return s;
  }
  void set_state(const std::string& linear, const std::map<std::string, Tensor>& s) override {
    Layer L;
    for (const char* k : {"C", "B"}) {
      auto it = s.find(k);
      TWLA_CHECK(it != s.end(), "kotms: the state of '", linear, "' lacks ", k, "; re-pack the model");
      const Tensor& t = it->second;
      TWLA_CHECK(t.dim() == 2 && t.size(0) == t.size(1), "kotms: ", k, " of '", linear,
                 "' must be square, got ", describe(t), "; re-pack the model");
      (k[0] == 'C' ? L.C : L.B) = t.to(at::kFloat).contiguous();
    }
    if (auto it = s.find("stats"); it != s.end()) {   // optional: packs before session 5 lack it
      const Tensor st = it->second.to(at::kDouble).contiguous();
      TWLA_CHECK(st.dim() == 1 && st.size(0) == int64_t(std::size(kKotmsStats)), "kotms: stats of '", linear,
                 "' must hold ", std::size(kKotmsStats), " values, got ", describe(st), "; re-pack the model");
      for (size_t i = 0; i < std::size(kKotmsStats); ++i) L.stats[kKotmsStats[i]] = st[int64_t(i)].item<double>();
    }
    if (auto it = s.find("loss_curve"); it != s.end()) {
      const Tensor c = it->second.to(at::kDouble).contiguous();
      L.curve.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    }
    std::lock_guard<std::mutex> lock(mu_);
    layers_[linear] = std::make_shared<const Layer>(std::move(L));
  }
  std::map<std::string, double> stats(const std::string& linear) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = layers_.find(linear);
    return it == layers_.end() ? std::map<std::string, double>{} : it->second->stats;
  }
  std::vector<double> loss_curve(const std::string& linear) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = layers_.find(linear);
    return it == layers_.end() ? std::vector<double>{} : it->second->curve;
  }

 private:
  struct Layer {
    Tensor C, B;  // [l, l], [r, r] fp32
    std::map<std::string, double> stats;
    std::vector<double> curve;
  };
  std::shared_ptr<const Layer> get(const std::string& linear) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = layers_.find(linear);
    TWLA_ASSERT(it != layers_.end(), "kotms: linear '", linear, "' was not prepared");
    return it->second;
  }
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Layer>> layers_;
};

}  // namespace

const Registry<Rotation>& rotations() {
  static const Registry<Rotation> r{
      "rotation",
      {plugin_entry<Rotation, NoRotation>("none", "identity: no rotation"),
       plugin_entry<Rotation, HadamardRotation>(
           "hadamard", "randomized Hadamard H_n D / sqrt(n) by FWHT (QuaRot); other sizes via Paley/Williamson/"
           "Goethals-Seidel factors, else a seeded random orthogonal matrix"),
       plugin_entry<Rotation, KotmsRotation>(
           "kotms", "TWLA: learned Kronecker rotation C (x) B per linear (Cayley + Adam, tri-Gaussian)")}};
  return r;
}

}  // namespace twla
