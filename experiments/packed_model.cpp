// experiments/packed_model.cpp: see packed_model.h; the layout is docs/PACKED_FORMAT.md.
#include "experiments/packed_model.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "core/fs.h"
#include "core/safetensors.h"
#include "core/strings.h"
#include "experiments/packed_formats.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace twla {

namespace {

constexpr const char* kRepack = "re-pack the model with `twla pack`";

// Tokenizer files load_tokenizer() looks for, and the config it reads next to them.
const char* const kTokenizerFiles[] = {"tokenizer.model", "tokenizer.json", "vocab.json", "merges.txt",
                                       "tokenizer_config.json", "special_tokens_map.json",
                                       "generation_config.json"};

// Copies stay writable by their owner (sources may be read-only, as ../shared is).
void copy_writable(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
}

void copy_tokenizer(const std::string& tok, const std::string& to) {
  if (tok.empty()) return;
  std::string dir = tok;
  if (!dir_exists(tok)) {
    TWLA_CHECK(file_exists(tok), "pack: tokenizer '", tok, "' does not exist; set model.tokenizer");
    copy_writable(tok, to + "/" + fs::path(tok).filename().string());
    dir = fs::path(tok).parent_path().string();
  }
  for (const char* n : kTokenizerFiles)
    if (file_exists(dir + "/" + n) && !file_exists(to + "/" + n)) copy_writable(dir + "/" + n, to + "/" + n);
}

int64_t numel_of(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::vector<std::string> all_linears(const ModelConfig& c) {
  std::vector<std::string> out;
  for (int b = 0; b < c.num_layers; ++b)
    for (auto& n : block_linear_names(b)) out.push_back(n);
  return out;
}

// The field `path` of j; Error naming the file and the field when it is absent.
const json& need(const json& j, const char* key, const std::string& file, const std::string& path) {
  TWLA_CHECK(j.is_object() && j.contains(key), "packed model '", file, "': field ", path, ".", key,
             " is missing; the metadata is damaged: ", kRepack);
  return j.at(key);
}

}  // namespace

PackSummary write_packed_model(const std::string& dir_in, const PackInput& in) {
  TWLA_ASSERT(in.model && in.rotation, "write_packed_model needs a model and a rotation");
  const Model& m = *in.model;
  const ModelSource& src = m.source();
  std::string dir = fs::absolute(dir_in).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (fs::exists(dir))
    TWLA_CHECK(is_packed_model(dir) || (fs::is_directory(dir) && fs::is_empty(dir)), "pack: output '", dir,
               "' exists and is not a packed model; choose another --out or delete it");

  PackSummary s;
  s.dir = dir;
  std::map<std::string, Tensor> tensors;
  json linears = json::object();
  std::set<std::string> packed;
  for (const auto& name : all_linears(m.config())) {
    auto p = m.override_of(name);
    if (!p) {
      ++s.fp_linears;
      continue;
    }
    const PackedFormat& f = choose_packed_format(*p, name);
    PackedArrays a = f.encode(*p);
    json arrays = json::object();
    for (const auto& [an, t] : a.arrays) {
      const std::string tn = "twla/" + name + "/" + an;
      tensors[tn] = t;
      arrays[an] = tn;
    }
    linears[name] = {{"format", f.name}, {"shape", p->shape}, {"attrs", a.attrs}, {"arrays", arrays},
                     {"bits_per_weight", p->bits_per_weight}};
    packed.insert("model." + name + ".weight");
    ++s.formats[f.name];
  }
  // Everything else as stored (dtype unchanged).
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files;
  for (const auto& [name, shape] : expected_tensors(m.config())) {
    s.fp16_bytes += 2 * numel_of(shape);
    if (packed.count(name)) continue;
    const std::string& file = src.file_of(name);
    auto& f = files[file];
    if (!f) f = std::make_unique<SafetensorsFile>(file);
    tensors[name] = f->load_raw(name);
  }
  json rot = {{"name", in.rotation->name()}, {"state", json::object()}};
  for (const auto& name : all_linears(m.config())) {
    if (!m.override_of(name)) continue;   // never rotated: not executed through the rotation
    for (const auto& [part, t] : in.rotation->state(name)) {
      const std::string tn = "twla/rotation/" + name + "/" + part;
      tensors[tn] = t;
      rot["state"][name][part] = tn;
    }
  }
  json meta = {{"descriptor", in.descriptor_yaml},
               {"run_id", in.run_id},
               {"source_model", in.source_model},
               {"linears", linears},
               {"activations", {{"bits", in.allocation.act_bits}, {"clip", in.allocation.clip},
                                {"default_clip", in.default_clip}, {"compat", in.compat}}},
               {"rotation", rot}};

  const std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  make_dirs(tmp);
  write_safetensors(tmp + "/model.safetensors", tensors,
                    {{"twla_magic", kPackedMagic}, {"twla_version", std::to_string(kPackedVersion)},
                     {"twla_meta", meta.dump()}});
  copy_writable(src.dir() + "/config.json", tmp + "/config.json");
  copy_tokenizer(in.tokenizer, tmp);
  const std::string old = dir + ".old-" + std::to_string(::getpid());
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
  s.file_bytes = int64_t(fs::file_size(dir + "/model.safetensors"));
  return s;
}

bool is_packed_model(const std::string& dir) {
  const std::string f = dir + "/model.safetensors";
  if (!dir_exists(dir) || !file_exists(f)) return false;
  try {
    SafetensorsFile st(f);
    for (const auto& kv : st.metadata())
      if (starts_with(kv.first, "twla_")) return true;
    return false;
  } catch (const Error&) {
    // Unreadable: a packed model only if its header says so; read_packed_model() explains.
    std::ifstream is(f, std::ios::binary);
    std::string head(1 << 20, '\0');
    is.read(&head[0], std::streamsize(head.size()));
    head.resize(size_t(is.gcount()));
    return head.find("twla_magic") != std::string::npos;
  }
}

PackedModelInfo read_packed_model(const std::string& path) {
  PackedModelInfo info;
  info.dir = dir_exists(path) ? path : fs::path(path).parent_path().string();
  if (info.dir.empty()) info.dir = ".";
  info.file = dir_exists(path) ? path + "/model.safetensors" : path;
  const std::string& file = info.file;
  TWLA_CHECK(file_exists(file), "packed model '", path, "' has no model.safetensors; make one with `twla pack`");
  std::unique_ptr<SafetensorsFile> st;
  try {
    st = std::make_unique<SafetensorsFile>(file);
  } catch (const Error& e) {
    TWLA_FAIL("packed model '", file, "' cannot be read (", e.what(), "); the file is damaged or truncated: ", kRepack);
  }
  const auto& md = st->metadata();
  auto magic = md.find("twla_magic");
  if (magic == md.end()) {
    TWLA_CHECK(!md.count("twla_checkpoint"), "packed model '", file,
               "' is a calibration checkpoint or stage-cache entry, not a packed model; make one with `twla pack`");
    TWLA_FAIL("packed model '", file, "': field twla_magic is missing from the safetensors metadata; it is not a "
              "twla packed model: make one with `twla pack`");
  }
  TWLA_CHECK(magic->second == kPackedMagic, "packed model '", file, "': field twla_magic is '", magic->second,
             "', expected '", kPackedMagic, "'; it is not a twla packed model (or is damaged): ", kRepack);
  auto ver = md.find("twla_version");
  TWLA_CHECK(ver != md.end(), "packed model '", file, "': field twla_version is missing; ", kRepack);
  TWLA_CHECK(ver->second == std::to_string(kPackedVersion), "packed model '", file, "': field twla_version is '",
             ver->second, "', this twla reads version ", kPackedVersion, "; ", kRepack,
             " of this build (or run it with the twla that made it)");
  auto tj = md.find("twla_meta");
  TWLA_CHECK(tj != md.end(), "packed model '", file, "': field twla_meta (the JSON metadata) is missing; ", kRepack);
  json meta;
  try {
    meta = json::parse(tj->second);
  } catch (const json::exception& e) {
    TWLA_FAIL("packed model '", file, "': field twla_meta is not valid JSON (", e.what(), "); ", kRepack);
  }
  const ModelConfig cfg = read_model_config(info.dir);
  const std::string cfg_file = info.dir + "/config.json";
  std::string field;   // the field being read, for type errors
  try {
    field = "twla_meta.descriptor";
    info.descriptor_yaml = need(meta, "descriptor", file, "twla_meta").get<std::string>();
    field = "twla_meta.run_id";
    info.run_id = need(meta, "run_id", file, "twla_meta").get<std::string>();
    info.source_model = meta.value("source_model", "");
    const auto names = all_linears(cfg);
    const std::set<std::string> known(names.begin(), names.end());
    const json& lj = need(meta, "linears", file, "twla_meta");
    for (auto it = lj.begin(); it != lj.end(); ++it) {
      const std::string& name = it.key();
      const std::string f = "twla_meta.linears." + name;
      TWLA_CHECK(known.count(name), "packed model '", file, "': field ", f, " names a linear that ", cfg_file,
                 " (num_hidden_layers=", cfg.num_layers, ") does not have; the file and config.json do not "
                 "match: ", kRepack);
      PackedLinear L;
      field = f + ".format";
      L.format = need(*it, "format", file, f).get<std::string>();
      const PackedFormat* pf = find_packed_format(L.format);
      TWLA_CHECK(pf, "packed model '", file, "': field ", field, " is '", L.format, "', a format this twla does "
                 "not know (known: ", join(packed_format_names(), ", "), "); ", kRepack, " or use a newer twla");
      field = f + ".shape";
      L.shape = need(*it, "shape", file, f).get<std::vector<int64_t>>();
      const auto want = linear_shape(cfg, name);
      TWLA_CHECK(L.shape == want, "packed model '", file, "': field ", field, " is ", shape_str(L.shape), ", but ",
                 cfg_file, " implies ", shape_str(want), " (hidden_size=", cfg.hidden_size, ", intermediate_size=",
                 cfg.intermediate_size, "); the file and config.json do not match: restore the config.json it was "
                 "packed with, or ", kRepack);
      field = f + ".attrs";
      L.attrs = need(*it, "attrs", file, f).get<std::map<std::string, int64_t>>();
      field = f + ".bits_per_weight";
      L.bits_per_weight = need(*it, "bits_per_weight", file, f).get<double>();
      field = f + ".arrays";
      L.arrays = need(*it, "arrays", file, f).get<std::map<std::string, std::string>>();
      for (const auto& a : pf->arrays)
        TWLA_CHECK(L.arrays.count(a), "packed model '", file, "': field ", field, " lacks '", a, "', which format ",
                   L.format, " needs; ", kRepack);
      for (const auto& [a, tn] : L.arrays)
        TWLA_CHECK(st->has(tn), "packed model '", file, "': tensor '", tn, "' (", field, ".", a,
                   ") is missing from the file; the file is incomplete: ", kRepack);
      info.linears[name] = L;
    }
    const json& aj = need(meta, "activations", file, "twla_meta");
    field = "twla_meta.activations.bits";
    info.allocation.act_bits = need(aj, "bits", file, "twla_meta.activations").get<std::vector<int>>();
    TWLA_CHECK(int(info.allocation.act_bits.size()) == cfg.num_layers, "packed model '", file, "': field ", field,
               " has ", info.allocation.act_bits.size(), " entries, but ", cfg_file, " has num_hidden_layers=",
               cfg.num_layers, "; ", kRepack);
    field = "twla_meta.activations.clip";
    info.allocation.clip = need(aj, "clip", file, "twla_meta.activations").get<std::map<std::string, double>>();
    field = "twla_meta.activations.default_clip";
    info.default_clip = need(aj, "default_clip", file, "twla_meta.activations").get<double>();
    field = "twla_meta.activations.compat";
    info.compat = need(aj, "compat", file, "twla_meta.activations").get<std::string>();
    const json& rj = need(meta, "rotation", file, "twla_meta");
    field = "twla_meta.rotation.name";
    info.rotation = need(rj, "name", file, "twla_meta.rotation").get<std::string>();
    field = "twla_meta.rotation.state";
    info.rotation_state =
        need(rj, "state", file, "twla_meta.rotation").get<std::map<std::string, std::map<std::string, std::string>>>();
    for (const auto& [name, parts] : info.rotation_state)
      for (const auto& [part, tn] : parts)
        TWLA_CHECK(st->has(tn), "packed model '", file, "': tensor '", tn, "' (", field, ".", name, ".", part,
                   ") is missing from the file; the file is incomplete: ", kRepack);
  } catch (const json::exception& e) {
    TWLA_FAIL("packed model '", file, "': field ", field, " has the wrong type (", e.what(), "); ", kRepack);
  }
  // Every tensor config.json implies is either packed or stored as it was.
  const std::set<std::string> provided = packed_hf_names(info);
  for (const auto& [name, shape] : expected_tensors(cfg)) {
    if (provided.count(name)) continue;
    TWLA_CHECK(st->has(name), "packed model '", file, "': tensor '", name, "' is missing (neither stored nor in "
               "twla_meta.linears), but ", cfg_file, " implies it; the file is incomplete: ", kRepack);
  }
  return info;
}

std::set<std::string> packed_hf_names(const PackedModelInfo& info) {
  std::set<std::string> out;
  for (const auto& kv : info.linears) out.insert("model." + kv.first + ".weight");
  return out;
}

int load_packed_weights(const PackedModelInfo& info, Model& model, Rotation& rotation) {
  SafetensorsFile st(info.file);
  TWLA_CHECK(rotation.name() == info.rotation, "packed model '", info.file, "': field twla_meta.rotation.name is '",
             info.rotation, "', but the run's rotation is '", rotation.name(), "'; the descriptor must not "
             "override a packed model's rotation");
  for (const auto& [name, L] : info.linears) {
    const std::string where = "packed model '" + info.file + "': twla_meta.linears." + name;
    PackedArrays a;
    a.attrs = L.attrs;
    for (const auto& [an, tn] : L.arrays) a.arrays[an] = st.load_raw(tn);
    PackedWeight p = find_packed_format(L.format)->decode(a, L.shape, where);
    TWLA_CHECK(p.shape == L.shape, where, ": decodes to shape ", shape_str(p.shape), ", not ", shape_str(L.shape),
               "; ", kRepack);
    p.bits_per_weight = L.bits_per_weight;
    model.set_weight(name, std::make_shared<PackedWeight>(std::move(p)));
  }
  for (const auto& [name, parts] : info.rotation_state) {
    std::map<std::string, Tensor> s;
    for (const auto& [part, tn] : parts) s[part] = st.load_raw(tn);
    rotation.set_state(name, s);
  }
  return int(info.linears.size());
}

}  // namespace twla
