// experiments/descriptor.cpp: see descriptor.h.
#include "experiments/descriptor.h"

#include <filesystem>

#include "allocators/allocator.h"
#include "core/fs.h"
#include "quantizers/quantizer.h"
#include "rotations/rotation.h"

namespace twla {

namespace {
YAML::Node load_yaml_file(const std::string& path) {
  TWLA_CHECK(file_exists(path), "descriptor '", path, "' does not exist");
  try {
    YAML::Node n = YAML::LoadFile(path);
    if (n.IsNull()) return YAML::Node(YAML::NodeType::Map);
    TWLA_CHECK(n.IsMap(), "descriptor '", path, "' must be a YAML map of fields");
    return n;
  } catch (const YAML::Exception& e) {
    TWLA_FAIL("descriptor '", path, "' is not valid YAML: line ", e.mark.line + 1, ": ", e.msg);
  }
}

// b's keys win; maps merge recursively; anything else is replaced.
YAML::Node merge(const YAML::Node& a, const YAML::Node& b) {
  if (!a.IsMap() || !b.IsMap()) return YAML::Clone(b);
  YAML::Node out = YAML::Clone(a);
  for (auto it = b.begin(); it != b.end(); ++it) {
    std::string k = it->first.as<std::string>();
    out[k] = out[k].IsDefined() ? merge(out[k], it->second) : YAML::Clone(it->second);
  }
  return out;
}

YAML::Node load_with_includes(const std::string& path, int depth) {
  TWLA_CHECK(depth < 16, "descriptor '", path, "': include: chain deeper than 16 (a cycle?)");
  YAML::Node n = load_yaml_file(path);
  if (!n["include"]) return n;
  std::vector<std::string> incs;
  read_scalar(n["include"], incs, path + ": include");
  n.remove("include");
  auto dir = std::filesystem::path(path).parent_path();
  YAML::Node base(YAML::NodeType::Map);
  for (const auto& inc : incs) {
    auto p = std::filesystem::path(inc).is_absolute() ? std::filesystem::path(inc) : dir / inc;
    base = merge(base, load_with_includes(p.string(), depth + 1));
  }
  return merge(base, n);
}
template <class T>
void propagate_compat(const Registry<T>& r, PluginSpec& spec) {
  const YAML::Node& params = spec.params;
  if (!r.contains(spec.name) || params["compat_reference"]) return;
  for (const auto& f : r.at(spec.name).fields(""))
    if (f.path == "compat_reference") spec.params["compat_reference"] = true;
}
}  // namespace

void set_dotted(YAML::Node& root, const std::string& key, const YAML::Node& value) {
  auto parts = split(key, '.');
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node cur = chain.back();
    YAML::Node next = cur[parts[i]];
    if (next.IsScalar()) {  // `quantizer: rtn` then `quantizer.bits=3`: promote to a map
      std::string name = next.as<std::string>();
      next = YAML::Node(YAML::NodeType::Map);
      next["name"] = name;
      cur[parts[i]] = next;
      next = cur[parts[i]];
    } else if (!next.IsDefined() || next.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = cur[parts[i]];
    }
    chain.push_back(next);
  }
  YAML::Node last = chain.back();
  last[parts.back()] = YAML::Clone(value);
}

void apply_override(YAML::Node& root, const std::string& a) {
  auto eq = a.find('=');
  TWLA_CHECK(eq != std::string::npos && eq > 0, "override '", a,
             "' must look like key.sub=value (e.g. quantizer.bits=3)");
  YAML::Node v;
  try {
    v = YAML::Load(a.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    TWLA_FAIL("override '", a, "': value is not valid YAML (", e.msg, ")");
  }
  set_dotted(root, a.substr(0, eq), v);
}

YAML::Node load_descriptor_tree(const std::string& path, const std::vector<std::string>& overrides,
                                YAML::Node* sweep, YAML::Node* slurm) {
  YAML::Node n = load_with_includes(path, 0);
  for (const auto& o : overrides) apply_override(n, o);  // slurm.partition=x overrides too
  for (auto [key, out] : {std::pair{"sweep", sweep}, std::pair{"slurm", slurm}}) {
    if (!n[key]) continue;
    if (out) *out = YAML::Clone(n[key]);
    n.remove(key);
  }
  return n;
}

Descriptor parse_descriptor(const YAML::Node& tree, YAML::Node* resolved) {
  Descriptor d;
  parse_fields(d, tree, "");
  TWLA_CHECK(!d.model.path.empty(), "descriptor field 'model.path' is required: a Hugging Face "
             "folder such as ${data}/models/stories260K");
  TWLA_CHECK(d.compat == "fixed" || d.compat == "reference", "descriptor field 'compat' is '",
             d.compat, "'; use fixed or reference");
  TWLA_CHECK(d.backend == "fake" || d.backend == "kernel" || d.backend == "kernel-cuda",
             "descriptor field 'backend' is '", d.backend, "'; use fake, kernel or kernel-cuda");
  // `compat: reference` reaches every plugin that has a compat_reference switch (unless the
  // descriptor sets that plugin's switch itself).
  if (d.compat == "reference") {
    propagate_compat(quantizers(), d.quantizer);
    propagate_compat(rotations(), d.rotation);
    propagate_compat(allocators(), d.activations.allocator);
  }
  // Instantiating the plugins checks their fields now, before any work starts.
  auto q = quantizers().make(d.quantizer, "quantizer");
  auto r = rotations().make(d.rotation, "rotation");
  auto a = allocators().make(d.activations.allocator, "activations.allocator");
  if (resolved) {
    d.quantizer.params = q->params();
    d.rotation.params = r->params();
    d.activations.allocator.params = a->params();
    *resolved = to_yaml(d);
  }
  return d;
}

std::string run_id(const YAML::Node& resolved) {
  YAML::Node n = YAML::Clone(resolved);
  // Where results go and how many threads compute them do not change the numbers.
  n.remove("output");
  n.remove("threads");
  n.remove("description");
  std::string text = yaml_text(n);
  return sha256_bytes(text.data(), text.size()).substr(0, 12);
}

}  // namespace twla
