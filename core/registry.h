// core/registry.h: one visible table per plugin kind (quantizers, rotations, allocators, tasks).
// A row is {name, help, factory}; the factory parses the plugin's own Config from the descriptor,
// so unknown plugin fields are rejected with a suggestion. No static-init macros, no scans.
#pragma once
#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fields.h"
#include "core/strings.h"

namespace twla {

// Base of every plugin: it can say its resolved parameters (for results and run ids).
class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string name() const = 0;
  virtual YAML::Node params() const = 0;
};

// Thin shell: holds a Config parsed by the registry and dumps it back.
template <class Base, class Config>
class PluginShell : public Base {
 public:
  using ConfigType = Config;
  PluginShell(std::string name, Config cfg) : name_(std::move(name)), cfg_(std::move(cfg)) {}
  std::string name() const override { return name_; }
  YAML::Node params() const override { return to_yaml(cfg_); }
  const Config& config() const { return cfg_; }

 protected:
  std::string name_;
  Config cfg_;
};

template <class T>
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string help;
    std::function<std::unique_ptr<T>(const YAML::Node& params, const std::string& path)> make;
    std::function<std::vector<FieldInfo>(const std::string& path)> fields;
  };

  Registry(std::string kind, std::vector<Entry> entries)
      : kind_(std::move(kind)), entries_(std::move(entries)) {}

  const std::string& kind() const { return kind_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& e : entries_) n.push_back(e.name);
    return n;
  }
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const Entry& at(const std::string& name) const {
    const Entry* e = find(name);
    TWLA_CHECK(e, "unknown ", kind_, " '", name, "'", did_you_mean(name, names()));
    return *e;
  }
  // path: where the spec sits in the descriptor ("quantizer"), for error messages.
  std::unique_ptr<T> make(const PluginSpec& spec, const std::string& path) const {
    return at(spec.name).make(spec.params, path);
  }
  std::unique_ptr<T> make(const std::string& name) const {
    return at(name).make(YAML::Node(YAML::NodeType::Map), kind_);
  }

 private:
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  std::string kind_;
  std::vector<Entry> entries_;
};

// A registry row for Impl, whose constructor is Impl(std::string name, Impl::ConfigType cfg).
template <class T, class Impl>
typename Registry<T>::Entry plugin_entry(const std::string& name, const std::string& help) {
  return {name, help,
          [name](const YAML::Node& params, const std::string& path) -> std::unique_ptr<T> {
            typename Impl::ConfigType cfg;
            parse_fields(cfg, params, path);
            return std::make_unique<Impl>(name, cfg);
          },
          [](const std::string& path) { return field_help<typename Impl::ConfigType>(path); }};
}

}  // namespace twla
