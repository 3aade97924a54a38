// experiments/packed_io.cpp: see packed_io.h.
#include "experiments/packed_io.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/safetensors.h"

namespace twla {

namespace {
nlohmann::json record_json(const LayerRecord& r) {
  return {{"name", r.name}, {"block", r.block}, {"weight_err", r.weight_err},
          {"output_err", r.output_err}, {"bits_per_weight", r.bits_per_weight},
          {"seconds", r.seconds}, {"extra", r.extra}};
}
LayerRecord record_from(const nlohmann::json& j) {
  LayerRecord r;
  r.name = j.at("name");
  r.block = j.at("block");
  r.weight_err = j.at("weight_err");
  r.output_err = j.at("output_err");
  r.bits_per_weight = j.at("bits_per_weight");
  r.seconds = j.at("seconds");
  r.extra = j.at("extra").get<std::map<std::string, double>>();
  return r;
}

}  // namespace

void save_packed(const std::string& path, const std::string& key,
                 const std::map<std::string, PackedWeight>& packed,
                 const std::vector<LayerRecord>& recs) {
  std::map<std::string, Tensor> tensors;
  nlohmann::json meta = {{"key", key}, {"layers", nlohmann::json::object()}};
  for (const auto& [name, p] : packed) {
    for (const auto& [part, t] : p.parts) tensors[name + "/" + part] = t;
    meta["layers"][name] = {{"format", p.format}, {"shape", p.shape}, {"attrs", p.attrs},
                            {"bits_per_weight", p.bits_per_weight}};
  }
  nlohmann::json rj = nlohmann::json::array();
  for (const auto& r : recs) rj.push_back(record_json(r));
  meta["records"] = rj;
  write_safetensors(path, tensors, {{"twla_checkpoint", meta.dump()}});
}

bool load_packed(const std::string& path, const std::string& key,
                 std::map<std::string, PackedWeight>* packed, std::vector<LayerRecord>* recs) {
  if (!file_exists(path)) return false;
  SafetensorsFile f(path);
  auto it = f.metadata().find("twla_checkpoint");
  TWLA_CHECK(it != f.metadata().end(), "'", path, "' has no twla metadata (not a twla checkpoint or cache entry); delete it");
  auto meta = nlohmann::json::parse(it->second);
  if (meta.at("key") != key) return false;
  for (auto l = meta["layers"].begin(); l != meta["layers"].end(); ++l) {
    PackedWeight p;
    p.format = l.value().at("format");
    p.shape = l.value().at("shape").get<std::vector<int64_t>>();
    p.attrs = l.value().at("attrs").get<std::map<std::string, int64_t>>();
    p.bits_per_weight = l.value().at("bits_per_weight");
    for (const auto& n : f.names())
      if (n.rfind(l.key() + "/", 0) == 0) p.parts[n.substr(l.key().size() + 1)] = f.map_raw(n);
    (*packed)[l.key()] = p;
  }
  for (const auto& r : meta.at("records")) recs->push_back(record_from(r));
  return true;
}

}  // namespace twla
