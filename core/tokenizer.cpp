// core/tokenizer.cpp: load_tokenizer() (which files a model folder has, and which reader they
// need), the HF tokenizer.json reader and tokenizer_config.json (bos/eos/add_bos, added tokens).
// Not here: SentencePiece (tokenizer_spm.cpp), byte-level BPE and its other readers
// (tokenizer_bpe.cpp). Source: HF tokenizers' tokenizer.json schema (normalizers, pre_tokenizers,
// models.BPE, processors.TemplateProcessing) and transformers' tokenizer_config.json keys.
#include "core/tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/strings.h"
#include "core/tokenizer_bpe.h"
#include "core/tokenizer_spm.h"

namespace twla {

using nlohmann::json;

namespace {

// A token named in a config: "text", {"content": "text", ...} (AddedToken), or null ("").
std::string token_text(const json& v, const std::string& path, const char* key) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  TWLA_CHECK(v.is_object() && v.contains("content") && v["content"].is_string(), path, ": ", key,
             " is neither a string nor {\"content\": ...}");
  return v["content"].get<std::string>();
}

// pre_tokenizer: a Split with one of our regexes then ByteLevel(use_regex=false), or a lone
// ByteLevel(use_regex=true) (GPT-2), possibly inside a Sequence.
void read_pre_tokenizer(const json& pre, const std::string& path, BpeSpec& s) {
  std::vector<json> steps;
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (const auto& p : pre.at("pretokenizers")) steps.push_back(p);
  } else if (!pre.is_null()) {
    steps.push_back(pre);
  }
  bool byte_level = false, have_regex = false;
  for (const json& st : steps) {
    std::string type = st.value("type", "");
    if (type == "Split") {
      TWLA_CHECK(st.contains("pattern") && st["pattern"].contains("Regex"), path,
                 ": pre_tokenizer Split without a Regex pattern is not supported");
      std::string re = st["pattern"]["Regex"].get<std::string>();
      TWLA_CHECK(st.value("behavior", "") == "Isolated" && !st.value("invert", false), path,
                 ": pre_tokenizer Split must be behavior Isolated, invert false");
      bool known = false;
      for (auto p : {unicode::Pretokenizer::kGpt2, unicode::Pretokenizer::kLlama3,
                     unicode::Pretokenizer::kQwen2})
        if (re == unicode::regex_of(p)) s.pretokenizer = p, known = true;
      TWLA_CHECK(known && !have_regex, path, ": pre_tokenizer regex ", re,
                 " is not one twla implements (GPT-2, Llama-3, Qwen2; see core/unicode.cpp)");
      have_regex = true;
    } else if (type == "ByteLevel") {
      byte_level = true;
      s.add_prefix_space = st.value("add_prefix_space", false);
      if (st.value("use_regex", true)) {
        TWLA_CHECK(!have_regex, path, ": a Split regex followed by ByteLevel(use_regex=true)"
                   " is not supported");
        s.pretokenizer = unicode::Pretokenizer::kGpt2, have_regex = true;
      }
    } else {
      TWLA_FAIL(path, ": pre_tokenizer type '", type, "' is not supported; twla reads byte-level "
                "BPE (Split + ByteLevel); for SentencePiece models use tokenizer.model");
    }
  }
  TWLA_CHECK(byte_level && have_regex, path, ": no ByteLevel pre_tokenizer with a regex; only "
             "byte-level BPE tokenizer.json is supported (use tokenizer.model for SentencePiece)");
}

// post_processor: a TemplateProcessing whose "single" starts with a special token adds BOS.
void read_post_processor(const json& p, const std::string& path, BpeSpec& s) {
  if (p.is_null()) return;
  std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const auto& q : p.at("processors")) read_post_processor(q, path, s);
  } else if (type == "TemplateProcessing") {
    const json& single = p.at("single");
    for (size_t i = 0; i < single.size(); ++i) {
      if (!single[i].contains("SpecialToken")) continue;
      std::string name = single[i]["SpecialToken"].at("id").get<std::string>();
      TWLA_CHECK(i == 0, path, ": post_processor appends '", name, "' after the text; twla adds "
                 "only a leading BOS");
      s.bos = p.at("special_tokens").at(name).at("ids").at(0).get<int>();
      s.add_bos = true;
    }
  } else {
    TWLA_CHECK(type == "ByteLevel", path, ": post_processor type '", type, "' is not supported");
  }
}

BpeSpec read_hf_tokenizer_json(const std::string& path) {
  json j = read_json(path);
  BpeSpec s;
  s.source = path;
  try {
    const json& model = j.at("model");
    std::string type = model.value("type", "BPE");
    TWLA_CHECK(type == "BPE", path, ": model.type '", type,
               "' is not supported; only byte-level BPE");
    TWLA_CHECK(!model.value("byte_fallback", false), path, ": a byte_fallback BPE (SentencePiece"
               " style) is not supported here; load the model's tokenizer.model instead");
    read_bpe_vocab(model.at("vocab"), path, s);
    for (const auto& m : model.at("merges")) {   // "left right" or ["left", "right"]
      std::string l, r;
      if (m.is_string()) {
        std::string line = m.get<std::string>();
        size_t sp = line.find(' ');
        TWLA_CHECK(sp != std::string::npos, path, ": merge '", line, "' is not 'left right'");
        l = line.substr(0, sp), r = line.substr(sp + 1);
      } else {
        l = m.at(0).get<std::string>(), r = m.at(1).get<std::string>();
      }
      std::string lb, rb;
      TWLA_CHECK(unicode_to_bytes(l, lb) && unicode_to_bytes(r, rb), path, ": merge '", l, " ", r,
                 "' is not byte-level");
      s.merges.emplace_back(lb, rb);
    }
    s.ignore_merges = model.value("ignore_merges", false);
    const json norm = j.value("normalizer", json());
    std::vector<json> norms;
    if (norm.is_object() && norm.value("type", "") == "Sequence") {
      for (const auto& n : norm.at("normalizers")) norms.push_back(n);
    } else if (!norm.is_null()) {
      norms.push_back(norm);
    }
    for (const json& n : norms) {
      std::string t = n.value("type", "");
      TWLA_CHECK(t == "NFC", path, ": normalizer '", t, "' is not supported (only NFC)");
      s.nfc = true;
    }
    read_pre_tokenizer(j.value("pre_tokenizer", json()), path, s);
    read_post_processor(j.value("post_processor", json()), path, s);
    const json added = j.value("added_tokens", json::array());
    for (const auto& t : added)
      s.specials.emplace_back(t.at("content").get<std::string>(), t.at("id").get<int32_t>());
  } catch (const json::exception& e) {
    TWLA_FAIL(path, ": unexpected tokenizer.json content (", e.what(), ")");
  }
  return s;
}

// vocab.json + merges.txt: GPT-2 rules unless tokenizer_config.json names Qwen2.
BpeSpec read_vocab_merges_folder(const std::string& dir) {
  BpeSpec s = read_vocab_merges(dir + "/vocab.json", dir + "/merges.txt");
  std::string cfg = dir + "/tokenizer_config.json";
  if (!file_exists(cfg)) {   // GPT-2's own files: HF GPT2Tokenizer's bos = eos = <|endoftext|>
    for (size_t id = 0; id < s.tokens.size(); ++id)
      if (s.tokens[id] == "<|endoftext|>") s.bos = s.eos = int(id);
    return s;
  }
  json c = read_json(cfg);
  std::string cls = c.value("tokenizer_class", "");
  if (starts_with(cls, "Qwen2")) {
    s.pretokenizer = unicode::Pretokenizer::kQwen2;
    s.nfc = true;   // Qwen2's tokenizer.json normalizer
  } else {
    TWLA_CHECK(cls.empty() || starts_with(cls, "GPT2"), cfg, ": tokenizer_class '", cls,
               "' with vocab.json + merges.txt is not supported (GPT2Tokenizer, Qwen2Tokenizer);"
               " give its tokenizer.json instead");
  }
  s.add_prefix_space = c.value("add_prefix_space", false);
  try {
    const json added = c.value("added_tokens_decoder", json::object());
    for (const auto& [id, t] : added.items())
      s.specials.emplace_back(t.at("content").get<std::string>(), std::stoi(id));
  } catch (const std::exception& e) {
    TWLA_FAIL(cfg, ": added_tokens_decoder is malformed (", e.what(), ")");
  }
  return s;
}

}  // namespace

std::vector<int32_t> Tokenizer::encode_for_model(const std::string& text) const {
  std::vector<int32_t> ids = encode(text);
  if (add_bos_) {
    TWLA_ASSERT(bos_ >= 0, "add_bos without a BOS id");
    ids.insert(ids.begin(), bos_);
  }
  return ids;
}

void apply_tokenizer_config(Tokenizer& t, const std::string& path) {
  json c = read_json(path);
  auto id_of = [&](const char* key) {
    std::string name = token_text(c[key], path, key);
    if (name.empty()) return -1;
    int id = t.token_to_id(name);
    TWLA_CHECK(id >= 0, path, ": ", key, " '", name, "' is not a token of this ", t.kind(),
               " tokenizer; fix the config or the tokenizer files next to it");
    return id;
  };
  if (c.contains("bos_token")) {
    t.bos_ = id_of("bos_token");
    if (t.bos_ < 0) t.add_bos_ = false;
  }
  if (c.contains("eos_token")) t.eos_ = id_of("eos_token");
  if (c.contains("add_bos_token")) {
    TWLA_CHECK(c["add_bos_token"].is_boolean(), path, ": add_bos_token must be true or false");
    t.add_bos_ = c["add_bos_token"].get<bool>();
  }
  TWLA_CHECK(!t.add_bos_ || t.bos_ >= 0, path, ": add_bos_token is true but there is no bos_token");
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path_in) {
  const std::string path = expand_path(path_in);
  namespace fs = std::filesystem;
  std::string dir, file;
  if (dir_exists(path)) {
    dir = path;
    for (const char* name : {"tokenizer.model", "tokenizer.json", "vocab.json"})
      if (file.empty() && file_exists(dir + "/" + name)) file = dir + "/" + name;
    TWLA_CHECK(!file.empty(), "tokenizer: folder '", dir, "' has no tokenizer.model, tokenizer.json"
               " or vocab.json + merges.txt; point at a model folder or a tokenizer file");
  } else {
    TWLA_CHECK(file_exists(path), "tokenizer: '", path, "' does not exist (expected a model folder"
               " or a tokenizer.model / tokenizer.json / vocab.json file)");
    file = path;
    dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
  }
  const std::string name = fs::path(file).filename().string();
  std::unique_ptr<Tokenizer> t;
  if (name == "vocab.json" || name == "merges.txt") {
    TWLA_CHECK(file_exists(dir + "/vocab.json") && file_exists(dir + "/merges.txt"), "tokenizer: ",
               dir, " needs both vocab.json and merges.txt");
    t = std::make_unique<BpeTokenizer>(read_vocab_merges_folder(dir));
  } else if (ends_with(name, ".json")) {
    t = std::make_unique<BpeTokenizer>(read_hf_tokenizer_json(file));
  } else if (is_tiktoken_file(file)) {
    t = std::make_unique<BpeTokenizer>(read_tiktoken_llama3(file));
  } else {
    t = load_sentencepiece(file);
  }
  if (std::string cfg = dir + "/tokenizer_config.json"; file_exists(cfg))
    apply_tokenizer_config(*t, cfg);
  return t;
}

}  // namespace twla
