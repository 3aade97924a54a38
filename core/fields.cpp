// core/fields.cpp: YAML conversions for the field visitors of fields.h.
#include "core/fields.h"

#include <sstream>

namespace twla {

template <> std::string type_name<bool>() { return "bool"; }
template <> std::string type_name<int>() { return "int"; }
template <> std::string type_name<int64_t>() { return "int"; }
template <> std::string type_name<double>() { return "float"; }
template <> std::string type_name<std::string>() { return "string"; }
template <> std::string type_name<std::vector<int>>() { return "list of int"; }
template <> std::string type_name<std::vector<double>>() { return "list of float"; }
template <> std::string type_name<std::vector<std::string>>() { return "list of string"; }
template <> std::string type_name<PluginSpec>() { return "plugin"; }

std::string yaml_inline(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "null";
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

namespace {
[[noreturn]] void bad_type(const YAML::Node& n, const std::string& path, const char* want) {
  TWLA_FAIL("descriptor field '", path, "' must be ", want, ", got ", yaml_inline(n));
}
template <class T>
T as_scalar(const YAML::Node& n, const std::string& path, const char* want) {
  if (!n.IsScalar()) bad_type(n, path, want);
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    bad_type(n, path, want);
  }
}
template <class T>
void read_list(const YAML::Node& n, std::vector<T>& v, const std::string& path, const char* want) {
  v.clear();
  if (n.IsScalar()) {  // a single value is a one-element list: `tasks: wikitext2`
    T x{};
    read_scalar(n, x, path);
    v.push_back(x);
    return;
  }
  if (!n.IsSequence()) bad_type(n, path, want);
  for (size_t i = 0; i < n.size(); ++i) {
    T x{};
    read_scalar(n[i], x, path + "[" + std::to_string(i) + "]");
    v.push_back(x);
  }
}
}  // namespace

void read_scalar(const YAML::Node& n, bool& v, const std::string& p) {
  v = as_scalar<bool>(n, p, "true or false");
}
void read_scalar(const YAML::Node& n, int& v, const std::string& p) {
  v = as_scalar<int>(n, p, "an integer");
}
void read_scalar(const YAML::Node& n, int64_t& v, const std::string& p) {
  v = as_scalar<int64_t>(n, p, "an integer");
}
void read_scalar(const YAML::Node& n, double& v, const std::string& p) {
  v = as_scalar<double>(n, p, "a number");
}
void read_scalar(const YAML::Node& n, std::string& v, const std::string& p) {
  v = as_scalar<std::string>(n, p, "a string");
}
void read_scalar(const YAML::Node& n, std::vector<int>& v, const std::string& p) {
  read_list(n, v, p, "a list of integers");
}
void read_scalar(const YAML::Node& n, std::vector<double>& v, const std::string& p) {
  read_list(n, v, p, "a list of numbers");
}
void read_scalar(const YAML::Node& n, std::vector<std::string>& v, const std::string& p) {
  read_list(n, v, p, "a list of strings");
}
void read_scalar(const YAML::Node& n, PluginSpec& v, const std::string& p) {
  if (n.IsScalar()) {
    v.name = n.as<std::string>();
    v.params = YAML::Node(YAML::NodeType::Map);
    return;
  }
  if (!n.IsMap()) bad_type(n, p, "a plugin name or a map with 'name'");
  TWLA_CHECK(n["name"].IsDefined() && n["name"].IsScalar(), "descriptor field '", p,
             "' needs a 'name:' (the plugin), got ", yaml_inline(n));
  v.name = n["name"].as<std::string>();
  v.params = YAML::Node(YAML::NodeType::Map);
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (k != "name") v.params[k] = YAML::Clone(it->second);
  }
}

YAML::Node write_scalar(bool v) { return YAML::Node(v); }
YAML::Node write_scalar(int v) { return YAML::Node(v); }
YAML::Node write_scalar(int64_t v) { return YAML::Node(v); }
YAML::Node write_scalar(double v) {
  // The shortest text that reads back to the same double: 0.1, not 0.10000000000000001.
  std::string text;
  for (int prec = 1; prec <= 17; ++prec) {
    std::ostringstream t;
    t.precision(prec);
    t << v;
    text = t.str();
    if (std::stod(text) == v) break;
  }
  return YAML::Node(text);
}
YAML::Node write_scalar(const std::string& v) { return YAML::Node(v); }
YAML::Node write_scalar(const std::vector<int>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (int x : v) n.push_back(x);
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}
YAML::Node write_scalar(const std::vector<double>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (double x : v) n.push_back(write_scalar(x));
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}
YAML::Node write_scalar(const std::vector<std::string>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const auto& x : v) n.push_back(x);
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}
YAML::Node write_scalar(const PluginSpec& v) {
  YAML::Node n(YAML::NodeType::Map);
  n["name"] = v.name;
  if (v.params.IsMap())
    for (auto it = v.params.begin(); it != v.params.end(); ++it)
      n[it->first.as<std::string>()] = YAML::Clone(it->second);
  return n;
}

void YamlReader::finish() const {
  if (!node_ || node_.IsNull()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string k = it->first.as<std::string>();
    bool known = false;
    for (const auto& d : keys_) known = known || d == k;
    TWLA_CHECK(known, "unknown descriptor field '", fields_detail::sub(path_, k.c_str()), "'",
               did_you_mean(k, keys_));
  }
}

std::vector<std::pair<std::string, std::string>> flatten_yaml(const YAML::Node& n,
                                                              const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.as<std::string>();
      auto sub = flatten_yaml(it->second, prefix.empty() ? k : prefix + "." + k);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  } else {
    out.emplace_back(prefix, n.IsScalar() ? n.as<std::string>() : yaml_inline(n));
  }
  return out;
}

std::string yaml_text(const YAML::Node& n) {
  YAML::Emitter e;
  e << n;
  return std::string(e.c_str()) + "\n";
}

std::string format_field_help(const std::vector<FieldInfo>& fields) {
  size_t w = 0;
  for (const auto& f : fields) w = std::max(w, f.path.size());
  std::ostringstream os;
  for (const auto& f : fields) {
    os << "  " << f.path << std::string(w - f.path.size() + 2, ' ') << f.help << "  ["
       << f.type << ", default " << f.default_value << "]\n";
  }
  return os.str();
}

}  // namespace twla
