// core/fields.h: declare a config's fields once, in a visit(); parsing, dumping, help and flat
// attributes all derive from it.
//   struct RtnConfig { int bits = 4; template <class V> void visit(V& v) { v("bits", bits, "2..8"); } };
// Not here: descriptor include/override resolution (experiments/descriptor.cpp).
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace twla {

// A plugin choice inside a descriptor: `quantizer: {name: rtn, bits: 4}` or `quantizer: rtn`.
// The params are parsed later by the plugin's own Config (registry.h), so its errors name its fields.
struct PluginSpec {
  std::string name;
  YAML::Node params = YAML::Node(YAML::NodeType::Map);
};

struct FieldInfo {
  std::string path, type, default_value, help;
};

namespace fields_detail {
// A nested config is any type with a member template `visit`.
template <class T>
struct is_struct_field {
  template <class U> static auto test(int) -> decltype(&U::template visit<int>, std::true_type{});
  template <class U> static std::false_type test(...);
  static constexpr bool value = decltype(test<T>(0))::value;
};
inline std::string sub(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}
}  // namespace fields_detail

template <class T>
constexpr bool is_struct_field_v = fields_detail::is_struct_field<T>::value;

// Human-readable type names for --help and error messages.
template <class T> std::string type_name();

// Scalar/list <-> YAML conversion with errors that name the field.
void read_scalar(const YAML::Node& n, bool& v, const std::string& path);
void read_scalar(const YAML::Node& n, int& v, const std::string& path);
void read_scalar(const YAML::Node& n, int64_t& v, const std::string& path);
void read_scalar(const YAML::Node& n, double& v, const std::string& path);
void read_scalar(const YAML::Node& n, std::string& v, const std::string& path);
void read_scalar(const YAML::Node& n, std::vector<int>& v, const std::string& path);
void read_scalar(const YAML::Node& n, std::vector<double>& v, const std::string& path);
void read_scalar(const YAML::Node& n, std::vector<std::string>& v, const std::string& path);
void read_scalar(const YAML::Node& n, PluginSpec& v, const std::string& path);

YAML::Node write_scalar(bool v);
YAML::Node write_scalar(int v);
YAML::Node write_scalar(int64_t v);
YAML::Node write_scalar(double v);
YAML::Node write_scalar(const std::string& v);
YAML::Node write_scalar(const std::vector<int>& v);
YAML::Node write_scalar(const std::vector<double>& v);
YAML::Node write_scalar(const std::vector<std::string>& v);
YAML::Node write_scalar(const PluginSpec& v);

// One-line text of a YAML value ("4", "[2, 4]", "{name: rtn}").
std::string yaml_inline(const YAML::Node& n);

// Reads a map into a config; every key of the map must be a declared field.
class YamlReader {
 public:
  YamlReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
    TWLA_CHECK(!node_ || node_.IsNull() || node_.IsMap(), "descriptor field '",
               path_.empty() ? "<top>" : path_, "' must be a map of fields, got ",
               yaml_inline(node_));
  }
  template <class T>
  void operator()(const char* key, T& value, const char* /*help*/) {
    keys_.emplace_back(key);
    if (!node_ || node_.IsNull()) return;
    const YAML::Node& cnode = node_;
    YAML::Node child = cnode[key];
    if (!child.IsDefined() || child.IsNull()) return;
    std::string p = fields_detail::sub(path_, key);
    if constexpr (is_struct_field_v<T>) {
      YamlReader r(child, p);
      value.visit(r);
      r.finish();
    } else {
      read_scalar(child, value, p);
    }
  }
  // Throws on keys that no field declared, with the nearest valid name.
  void finish() const;

 private:
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> keys_;
};

class YamlWriter {
 public:
  template <class T>
  void operator()(const char* key, const T& value, const char*) {
    if constexpr (is_struct_field_v<T>) {
      YamlWriter w;
      const_cast<T&>(value).visit(w);
      node[key] = w.node;
    } else {
      node[key] = write_scalar(value);
    }
  }
  YAML::Node node = YAML::Node(YAML::NodeType::Map);
};

class HelpCollector {
 public:
  explicit HelpCollector(std::string path = "") : path_(std::move(path)) {}
  template <class T>
  void operator()(const char* key, T& value, const char* help) {
    std::string p = fields_detail::sub(path_, key);
    if constexpr (is_struct_field_v<T>) {
      HelpCollector h(p);
      value.visit(h);
      for (auto& f : h.fields) fields.push_back(f);
    } else {
      fields.push_back({p, type_name<T>(), yaml_inline(write_scalar(value)), help});
    }
  }
  std::vector<FieldInfo> fields;

 private:
  std::string path_;
};

template <class C>
void parse_fields(C& cfg, const YAML::Node& node, const std::string& path) {
  YamlReader r(node, path);
  cfg.visit(r);
  r.finish();
}
template <class C>
YAML::Node to_yaml(const C& cfg) {
  YamlWriter w;
  const_cast<C&>(cfg).visit(w);
  return w.node;
}
template <class C>
std::vector<FieldInfo> field_help(const std::string& path = "") {
  C cfg;
  HelpCollector h(path);
  cfg.visit(h);
  return h.fields;
}

// "a.b.c" -> value pairs of a YAML tree, for HDF5 attributes and flat reports.
std::vector<std::pair<std::string, std::string>> flatten_yaml(const YAML::Node& n,
                                                              const std::string& prefix = "");
// Emits block-style YAML text.
std::string yaml_text(const YAML::Node& n);
// Prints a field table (for `twla describe`).
std::string format_field_help(const std::vector<FieldInfo>& fields);

}  // namespace twla
