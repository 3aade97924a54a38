// results/run_file.cpp: the twla run file (results.h5): writer, reader, directory scan.
// Not here: the HDF5 plumbing (hdf5.cpp), tables and `twla show` text (report.cpp, show.cpp).
//
// Schema, format_version 1. Strings are UTF-8 variable length, numbers float64 unless noted.
// Attributes and links keep creation order, so /config reads back in descriptor order.
//   /                  attrs  format = "twla-run", format_version (int64), run_id, name, git,
//                             status, descriptor (the fully resolved descriptor, YAML text)
//   /config            attrs  one string per flattened descriptor key: "quantizer.bits" = "4"
//   /inputs            attrs  sha256 hex per input: "model/model.safetensors" = "9f86..."
//   /labels            attrs  strings for tables: method, wbits, abits, rotation, allocator, model
//   /metrics           attrs  numbers: "ppl/wikitext2", "kl/wikitext2", "top1/wikitext2", "acc/piqa"
//   /timings           attrs  seconds per stage: "load", "quantize", "eval/wikitext2", "total"
//   /layers            parallel 1-D datasets, one row per layer, in quantization order:
//                        name (string), block (int32), weight_err, output_err (-1 = not measured),
//                        bits_per_weight, seconds
//                      extra  [n_layers, n_keys]; NaN where a layer has no value for a key
//                    attrs  extra_columns = the keys of extra's columns (string array)
//   /series/<name>     1-D arrays ("act_bits" per block); a '/' in a name makes a subgroup
// Readers: a missing group reads as empty, so older files load; a newer format_version is an error.
// In h5py: f.attrs["descriptor"], f["metrics"].attrs["ppl/wikitext2"], f["layers/weight_err"][:].
#include "results/run_file.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "results/hdf5.h"

namespace twla {

namespace {

constexpr const char* kFormat = "twla-run";

std::function<void(const std::string&)>& write_hook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

void section_done(const std::string& section) {
  if (write_hook()) write_hook()(section);
}

void check_key(const std::string& field, const std::string& key, const std::string& path) {
  TWLA_CHECK(!key.empty(), "run record for '", path, "': ", field,
             " has an entry with an empty name; give every entry a name");
  TWLA_CHECK(key != "." && key.front() != '/' && key.back() != '/' &&
                 key.find("//") == std::string::npos,
             "run record for '", path, "': ", field, " name '", key,
             "' is not a valid HDF5 name; drop leading, trailing and doubled '/'");
}

template <class Map>
void write_attrs(const h5::Location& root, const char* group, const Map& m,
                 const std::string& path) {
  h5::Location g = root.create_group(group);
  for (const auto& [k, v] : m) {
    check_key(std::string("/") + group, k, path);
    g.attr(k, v);
  }
}

void write_config(const h5::Location& root, const RunRecord& r, const std::string& path) {
  h5::Location g = root.create_group("config");
  std::set<std::string> seen;
  for (const auto& [k, v] : r.config_flat) {
    check_key("config_flat", k, path);
    TWLA_CHECK(seen.insert(k).second, "run record for '", path, "': config_flat has key '", k,
               "' twice; flatten the resolved descriptor once (flatten_yaml)");
    g.attr(k, v);
  }
}

void write_layers(const h5::Location& root, const std::vector<LayerRecord>& layers,
                  const std::string& path) {
  h5::Location g = root.create_group("layers");
  std::vector<std::string> names;
  std::vector<int> blocks;
  std::vector<double> werr, oerr, bits, secs;
  std::set<std::string> keys;
  for (const LayerRecord& l : layers) {
    TWLA_CHECK(!l.name.empty(), "run record for '", path, "': layer ", names.size(),
               " (block ", l.block, ") has no name; use the module path");
    names.push_back(l.name);
    blocks.push_back(l.block);
    werr.push_back(l.weight_err);
    oerr.push_back(l.output_err);
    bits.push_back(l.bits_per_weight);
    secs.push_back(l.seconds);
    for (const auto& kv : l.extra) {
      check_key("layer extra of " + l.name, kv.first, path);
      keys.insert(kv.first);
    }
  }
  g.write("name", names);
  g.write("block", blocks);
  g.write("weight_err", werr);
  g.write("output_err", oerr);
  g.write("bits_per_weight", bits);
  g.write("seconds", secs);
  h5::Matrix extra;
  extra.rows = layers.size();
  extra.cols = keys.size();
  extra.data.assign(extra.rows * extra.cols, std::numeric_limits<double>::quiet_NaN());
  size_t c = 0;
  for (const std::string& k : keys) {
    for (size_t i = 0; i < layers.size(); ++i) {
      auto it = layers[i].extra.find(k);
      if (it != layers[i].extra.end()) extra.data[i * extra.cols + c] = it->second;
    }
    ++c;
  }
  g.write("extra", extra);
  g.attr("extra_columns", std::vector<std::string>(keys.begin(), keys.end()));
}

void write_sections(const h5::File& f, const RunRecord& r, const std::string& path) {
  f.attr("format", kFormat);
  f.attr("format_version", kRunFormatVersion);
  f.attr("run_id", r.run_id);
  f.attr("name", r.name);
  f.attr("git", r.git);
  f.attr("status", r.status);
  f.attr("descriptor", r.descriptor_yaml);
  section_done("root");
  write_config(f, r, path);
  section_done("config");
  write_attrs(f, "inputs", r.input_sha256, path);
  write_attrs(f, "labels", r.labels, path);
  write_attrs(f, "metrics", r.metrics, path);
  write_attrs(f, "timings", r.timings, path);
  section_done("attrs");
  write_layers(f, r.layers, path);
  section_done("layers");
  h5::Location s = f.create_group("series");
  for (const auto& [name, values] : r.series) {
    check_key("series", name, path);
    s.write(name, values);
  }
  section_done("series");
}

}  // namespace

namespace testing {
void set_write_run_hook(std::function<void(const std::string&)> hook) {
  write_hook() = std::move(hook);
}
}  // namespace testing

void write_run(const std::string& path, const RunRecord& r) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  TWLA_CHECK(dir.empty() || dir_exists(dir), "cannot write run file '", path, "': no directory '",
             dir, "'; create the run directory first");
  std::string tmp = temp_path_for(path);
  try {
    h5::File f = h5::File::create(tmp);
    write_sections(f, r, path);
    f.close();
    commit_temp(tmp, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);   // the target path was never touched
    throw;
  }
}

namespace {

template <class T, class Get>
void read_attrs(const h5::File& f, const char* group, std::map<std::string, T>& out, Get get) {
  if (!f.is_group(group)) return;
  h5::Location g = f.group(group);
  for (const std::string& k : g.attr_names()) out[k] = get(g, k);
}

void read_layers(const h5::File& f, RunRecord& r) {
  if (!f.is_group("layers")) return;
  h5::Location g = f.group("layers");
  std::vector<std::string> names;
  if (g.has("name")) names = g.read_strings("name");
  size_t n = names.size();
  auto column = [&](const char* key, double fallback) {
    if (!g.has(key)) return std::vector<double>(n, fallback);
    std::vector<double> v = g.read_doubles(key);
    if (v.size() != n)
      g.fail(str("column '", key, "' has ", v.size(), " rows but 'name' has ", n,
                 "; the file is corrupt"));
    return v;
  };
  std::vector<double> block = column("block", 0), werr = column("weight_err", 0),
                      oerr = column("output_err", -1), bits = column("bits_per_weight", 32),
                      secs = column("seconds", 0);
  h5::Matrix extra;
  std::vector<std::string> keys;
  if (g.has("extra")) {
    extra = g.read_matrix("extra");
    keys = g.attr_strings("extra_columns");
    if (extra.rows != n || extra.cols != keys.size())
      g.fail(str("'extra' is [", extra.rows, ", ", extra.cols, "] but there are ", n,
                 " layers and ", keys.size(), " columns; the file is corrupt"));
  }
  r.layers.resize(n);
  for (size_t i = 0; i < n; ++i) {
    LayerRecord& l = r.layers[i];
    l.name = names[i];
    l.block = int(block[i]);
    l.weight_err = werr[i];
    l.output_err = oerr[i];
    l.bits_per_weight = bits[i];
    l.seconds = secs[i];
    for (size_t c = 0; c < keys.size(); ++c) {
      double v = extra.data[i * extra.cols + c];
      if (!std::isnan(v)) l.extra[keys[c]] = v;
    }
  }
}

}  // namespace

RunRecord read_run(const std::string& path) {
  h5::File f = h5::File::open_read(path);
  TWLA_CHECK(f.has_attr("format") && f.attr_string("format") == kFormat, "'", path,
             "' is an HDF5 file but not a twla run file (its root has no attribute format = '",
             kFormat, "'); point at a results.h5 that twla wrote");
  long long version = f.attr_int("format_version");
  TWLA_CHECK(version <= kRunFormatVersion, "'", path, "' has run format_version ", version,
             " but this twla reads up to ", kRunFormatVersion, "; update twla");
  RunRecord r;
  r.run_id = f.attr_string("run_id");
  r.name = f.attr_string("name");
  r.git = f.attr_string("git");
  r.status = f.attr_string("status");
  r.descriptor_yaml = f.attr_string("descriptor");
  if (f.is_group("config")) {
    h5::Location g = f.group("config");
    for (const std::string& k : g.attr_names()) r.config_flat.emplace_back(k, g.attr_string(k));
  }
  auto text = [](const h5::Location& g, const std::string& k) { return g.attr_string(k); };
  auto number = [](const h5::Location& g, const std::string& k) { return g.attr_double(k); };
  read_attrs(f, "inputs", r.input_sha256, text);
  read_attrs(f, "labels", r.labels, text);
  read_attrs(f, "metrics", r.metrics, number);
  read_attrs(f, "timings", r.timings, number);
  read_layers(f, r);
  if (f.is_group("series")) {
    h5::Location s = f.group("series");
    for (const std::string& name : s.datasets_below()) r.series[name] = s.read_doubles(name);
  }
  return r;
}

std::vector<RunRecord> read_runs(const std::string& dir) {
  TWLA_CHECK(dir_exists(dir), "no results directory '", dir,
             "'; pass the run or sweep directory that holds results.h5 files");
  std::vector<std::string> files;
  namespace fs = std::filesystem;
  for (const auto& e : fs::recursive_directory_iterator(
           dir, fs::directory_options::skip_permission_denied)) {
    if (e.is_regular_file() && e.path().filename() == kRunFileName) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());   // a stable order among equal names
  std::vector<RunRecord> runs;
  for (const std::string& p : files) runs.push_back(read_run(p));
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.name != b.name ? a.name < b.name : a.run_id < b.run_id;
  });
  return runs;
}

}  // namespace twla
