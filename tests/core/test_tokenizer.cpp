// tests/core/test_tokenizer.cpp: every tokenizer against ids made by the reference implementations.
// Byte-level BPE: all 46 HF vectors of data/tokenizers/{llama3,qwen2} (llama.cpp's tests.inp/out).
// SentencePiece: ids from libsentencepiece 0.1.97 (Debian 12), printed by a throwaway program that
// linked only -lsentencepiece (sp.Encode(text, &ids) on Llama-2's tokenizer.model), and
// stories260K's golden.json. GPT-2: strings whose every pre-token is one vocab.json entry, so the
// ids are plain vocabulary look-ups. Splits and NFC: Python 3.11 `regex` 2026.5.9 and unicodedata.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "core/tokenizer_bpe.h"
#include "core/unicode.h"
#include "tests/catch.h"

using twla::Tokenizer;
using Ids = std::vector<int32_t>;

namespace {

std::string tok_dir(const std::string& name) {
  return twla::data_dir() + "/data/tokenizers/" + name;
}

const Tokenizer& cached(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[path];
  if (!t) t = twla::load_tokenizer(path);
  return *t;
}

struct Vector { std::string text; Ids ids; };

// llama.cpp's format: tests separated by (and ending with) "\n__ggml_vocab_test__\n"; one line of
// " id id ..." per test in tests.out.
std::vector<Vector> read_vectors(const std::string& dir) {
  const std::string inp = twla::read_file(dir + "/tests.inp"),
                    out = twla::read_file(dir + "/tests.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Vector> v;
  for (size_t pos = 0; pos < inp.size();) {
    size_t next = inp.find(sep, pos);
    REQUIRE(next != std::string::npos);
    v.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (auto& t : v) {
    REQUIRE(std::getline(lines, line));
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) t.ids.push_back(id);
  }
  return v;
}

void check_vectors(const Tokenizer& tok, const std::string& dir) {
  auto vectors = read_vectors(dir);
  REQUIRE(vectors.size() == 46);
  CHECK(vectors[2].text.empty());
  int passed = 0;
  for (const auto& v : vectors) {
    CAPTURE(v.text);
    Ids got = tok.encode(v.text);
    CHECK(got == v.ids);
    passed += got == v.ids;
    CHECK(tok.decode(got) == v.text);
  }
  CHECK(passed == 46);
}

void check_cases(const Tokenizer& t, const std::vector<Vector>& cases) {
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(t.encode(c.text) == c.ids);
    CHECK(t.decode(c.ids) == c.text);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const twla::Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct TempDir {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("twla_tok_test_" + std::to_string(::getpid()))).string();
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string put(const std::string& name, const std::string& bytes) const {
    std::string p = path + "/" + name;
    twla::write_file_atomic(p, bytes);
    return p;
  }
};

}  // namespace

TEST_CASE("tokenizer: Llama-3 tiktoken reproduces the 46 HF vectors", "[tokenizer]") {
  const Tokenizer& t = cached(tok_dir("llama3"));
  CHECK(t.kind() == "tiktoken");
  CHECK(t.vocab_size() == 128256);
  CHECK(t.bos_id() == 128000);
  CHECK(t.eos_id() == 128001);
  CHECK(t.add_bos());
  CHECK(t.token_to_id("<|eot_id|>") == 128009);
  CHECK(t.token_to_id("<|reserved_special_token_250|>") == 128255);
  check_vectors(t, tok_dir("llama3"));
  CHECK(t.encode_for_model("Hello") == Ids{128000, 9906});
  CHECK(t.decode({128000, 9906}) == "<|begin_of_text|>Hello");
}

TEST_CASE("tokenizer: Qwen2 vocab.json + merges.txt reproduces the 46 HF vectors", "[tokenizer]") {
  const Tokenizer& t = cached(tok_dir("qwen2"));
  CHECK(t.kind() == "bpe");
  CHECK(t.vocab_size() == 151646);   // 151643 regular + 3 added in tokenizer_config.json
  CHECK(t.bos_id() == -1);
  CHECK_FALSE(t.add_bos());
  CHECK(t.eos_id() == 151645);       // <|im_end|>
  CHECK(t.token_to_id("<|endoftext|>") == 151643);
  check_vectors(t, tok_dir("qwen2"));
  CHECK(t.encode_for_model("Hello") == t.encode("Hello"));
  // NFC first: a decomposed é encodes as the composed one.
  CHECK(t.encode("caf\x65\xcc\x81") == t.encode("caf\xc3\xa9"));
}

TEST_CASE("tokenizer: GPT-2 vocab.json + merges.txt, hand-checked strings", "[tokenizer]") {
  const Tokenizer& t = cached(tok_dir("gpt2"));
  CHECK(t.vocab_size() == 50257);
  CHECK(t.eos_id() == 50256);
  CHECK_FALSE(t.add_bos());
  const std::vector<Vector> cases = {
      {"Hello world", {15496, 995}},
      {"Hello, world!", {15496, 11, 995, 0}},
      {"It's a test.", {1026, 338, 257, 1332, 13}},
      {" leading", {3756}},
      {"a  b", {64, 220, 275}},
      {"The year 1999\n", {464, 614, 7358, 198}},
      {"don't stop", {9099, 470, 2245}},
  };
  check_cases(t, cases);
}

TEST_CASE("tokenizer: SentencePiece Llama-2 matches libsentencepiece", "[tokenizer]") {
  const Tokenizer& t = cached(tok_dir("llama2") + "/tokenizer.model");
  CHECK(t.kind() == "sentencepiece");
  CHECK(t.vocab_size() == 32000);
  CHECK(t.bos_id() == 1);
  CHECK(t.eos_id() == 2);
  CHECK(t.add_bos());
  CHECK(t.token_to_id("<s>") == 1);
  CHECK(t.token_to_id("no such piece") == -1);
  const std::vector<Vector> cases = {
      {"Hello world, café", {15043, 3186, 29892, 274, 28059}},
      {"", {}},
      {" Hello", {29871, 15043}},
      {"  two leading spaces", {259, 1023, 8236, 8162}},
      {"Hello\nworld\n\nnew paragraph", {15043, 13, 11526, 13, 13, 1482, 14880}},
      {"tabs\tand\tmore", {18859, 12, 392, 12, 5514}},
      {"The quick brown fox jumps over the lazy dog.",
       {450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889}},
      {"naïve résumé Ünïcödé",
       {1055, 30085, 345, 6896, 398, 29948, 7189, 29876, 30085, 29883, 9289, 29948}},
      {"日本語のテキスト", {29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279}},
      {"emoji 🦙 llama",
       {953, 29877, 2397, 29871, 243, 162, 169, 156, 11148, 3304}},   // byte fallback
      {"Привет, мир!", {7203, 7616, 29892, 4157, 29927, 29991}},
      {"numbers 1234567 and 3.14159",
       {3694, 29871, 29896, 29906, 29941, 29946, 29945, 29953, 29955, 322, 29871, 29941, 29889,
        29896, 29946, 29896, 29945, 29929}},
      {" = Valkyria Chronicles III = \n",
       {29871, 353, 478, 2235, 29891, 2849, 15336, 4027, 4786, 353, 29871, 13}},
      {"trailing space ", {25053, 2913, 29871}},
      {"a  b   c", {263, 29871, 289, 259, 274}},
  };
  check_cases(t, cases);
  CHECK(t.encode_for_model("Hello world, café") == Ids{1, 15043, 3186, 29892, 274, 28059});
  CHECK(error_of([&] { t.decode({32000}); }).find("32000") != std::string::npos);
}

TEST_CASE("tokenizer: stories260K folder matches golden.json", "[tokenizer]") {
  const std::string dir = twla::data_dir() + "/models/stories260K";
  const Tokenizer& t = cached(dir);
  auto golden = nlohmann::json::parse(twla::read_file(dir + "/golden.json"));
  Ids want = golden.at("token_ids").get<Ids>();
  REQUIRE(want.size() == 32);
  const std::string text = golden.at("text").get<std::string>();
  CHECK(t.vocab_size() == 512);
  CHECK(t.bos_id() == 1);
  CHECK(t.eos_id() == 2);
  CHECK(t.encode_for_model(text) == want);
  CHECK(t.decode(t.encode(text)) == text);
}

TEST_CASE("tokenizer: HF tokenizer.json (synthetic): merges, ignore_merges, NFC, BOS",
          "[tokenizer]") {
  using nlohmann::json;
  TempDir tmp;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[twla::byte_to_unicode(uint8_t(b))] = b;
  vocab["ab"] = 256, vocab["bc"] = 257, vocab["abc"] = 258;
  auto make = [&](json merges, bool ignore_merges) {
    json split = {
        {"type", "Split"},
        {"pattern", {{"Regex", twla::unicode::regex_of(twla::unicode::Pretokenizer::kQwen2)}}},
        {"behavior", "Isolated"},
        {"invert", false}};
    json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
    json bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
    json seq = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
    return json{
        {"model",
         {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"ignore_merges", ignore_merges}}},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}}},
        {"post_processor",
         {{"type", "TemplateProcessing"},
          {"single", {bos, seq}},
          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {259}}}}}}}},
        {"added_tokens", {{{"id", 259}, {"content", "<s>"}, {"special", true}}}}};
  };
  auto as_strings =
      twla::load_tokenizer(tmp.put("a.json", make(json::array({"b c"}), false).dump()));
  auto as_pairs =
      twla::load_tokenizer(tmp.put("b.json", make(json::array({{"b", "c"}}), false).dump()));
  auto whole = twla::load_tokenizer(tmp.put("c.json", make(json::array({"b c"}), true).dump()));
  CHECK(as_strings->encode("abc") == Ids{'a', 257});
  CHECK(as_pairs->encode("abc") == Ids{'a', 257});
  CHECK(whole->encode("abc") == Ids{258});   // ignore_merges: a piece that is a token stays whole
  CHECK(as_strings->vocab_size() == 260);
  CHECK(as_strings->bos_id() == 259);
  CHECK(as_strings->add_bos());
  CHECK(as_strings->encode_for_model("abc") == Ids{259, 'a', 257});
  CHECK(as_strings->decode({259, 258}) == "<s>abc");
  CHECK(as_strings->encode("e\xcc\x81") == Ids{0xC3, 0xA9});   // NFC, then the bytes of é

  json bad = make(json::array({"b c"}), false);
  bad["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  CHECK(error_of([&] { twla::load_tokenizer(tmp.put("d.json", bad.dump())); }).find("d.json") !=
        std::string::npos);
  bad = make(json::array({"b c"}), false);
  bad["normalizer"] = {{"type", "NFKC"}};
  CHECK(error_of([&] { twla::load_tokenizer(tmp.put("e.json", bad.dump())); }).find("NFKC") !=
        std::string::npos);
}

TEST_CASE("tokenizer: missing and corrupt files give an Error naming the file", "[tokenizer]") {
  TempDir tmp;
  auto names = [](const std::string& err, const std::string& what) {
    CAPTURE(err);
    CHECK(err.find(what) != std::string::npos);
  };
  names(error_of([] { twla::load_tokenizer("/nonexistent/tok"); }), "/nonexistent/tok");
  names(error_of([&] { twla::load_tokenizer(tmp.path); }), tmp.path);
  std::string model = tmp.put("tokenizer.model", std::string("\x0a\xff\xff\x01garbage", 11));
  names(error_of([&] { twla::load_tokenizer(model); }), model);
  std::string tik = tmp.put("tik.model", "IQ== 0\nnot-base64! 1\n");
  names(error_of([&] { twla::load_tokenizer(tik); }), tik + ":2");
  tmp.put("vocab.json", "{\"a\": 0,");
  tmp.put("merges.txt", "#version: 0.2\na b\n");
  names(error_of([&] { twla::load_tokenizer(tmp.path + "/vocab.json"); }), "vocab.json");
  std::filesystem::remove(model);
  std::string vocab = "{";
  for (int b = 0; b < 256; ++b)
    vocab +=
        nlohmann::json(twla::byte_to_unicode(uint8_t(b))).dump() + ":" + std::to_string(b) + ",";
  tmp.put("vocab.json", vocab + "\"ab\": 256}");
  tmp.put("merges.txt", "#version: 0.2\na c\n");   // "ac" is not a token
  names(error_of([&] { twla::load_tokenizer(tmp.path); }), "merges.txt");
  tmp.put("merges.txt", "#version: 0.2\na b\n");
  CHECK(twla::load_tokenizer(tmp.path)->encode("abab") == Ids{256, 256});
  tmp.put("tokenizer_config.json", "{\"eos_token\": \"</s>\"}");
  names(error_of([&] { twla::load_tokenizer(tmp.path); }), "tokenizer_config.json");
}

TEST_CASE("unicode: pre-tokenizer splits and NFC agree with Python", "[tokenizer]") {
  using twla::unicode::Pretokenizer;
  auto split = [](const std::string& s, Pretokenizer p) {
    std::vector<std::string> out;
    for (auto [off, len] : twla::unicode::pretokenize(s, p)) out.push_back(s.substr(off, len));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(split("I'M here", Pretokenizer::kGpt2) == V{"I", "'", "M", " here"});
  CHECK(split("I'M here", Pretokenizer::kLlama3) == V{"I", "'M", " here"});
  CHECK(split("x \n\n y", Pretokenizer::kLlama3) == V{"x", " \n\n", " y"});
  CHECK(split("1234567", Pretokenizer::kGpt2) == V{"1234567"});
  CHECK(split("1234567", Pretokenizer::kLlama3) == V{"123", "456", "7"});
  CHECK(split("1234567", Pretokenizer::kQwen2) == V{"1", "2", "3", "4", "5", "6", "7"});
  CHECK(split("\"quoted\"!\n", Pretokenizer::kGpt2) == V{"\"", "quoted", "\"!", "\n"});
  CHECK(split("\"quoted\"!\n", Pretokenizer::kQwen2) == V{"\"quoted", "\"!\n"});
  CHECK(split("tab\tend  ", Pretokenizer::kGpt2) == V{"tab", "\t", "end", "  "});
  CHECK(split("tab\tend  ", Pretokenizer::kLlama3) == V{"tab", "\tend", "  "});
  CHECK(split("a  b", Pretokenizer::kQwen2) == V{"a", " ", " b"});
  using twla::unicode::nfc;
  CHECK(nfc("e\xcc\x81") == "\xc3\xa9");                              // e + U+0301 -> é
  CHECK(nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8") == "\xea\xb0\x81");   // Hangul jamo -> U+AC01
  CHECK(nfc("\xe2\x84\xab") == "\xc3\x85");                           // U+212B Angstrom -> U+00C5
  CHECK(nfc("a\xcc\x82\xcc\xa3") == "\xe1\xba\xad");                  // reordered, then U+1EAD
  CHECK(nfc("\xe1\xb8\x8b\xcc\xa3") == "\xe1\xb8\x8d\xcc\x87");   // U+1E0B U+0323 -> U+1E0D U+0307
  CHECK(nfc("bad \xff byte") == "bad \xff byte");                 // invalid UTF-8 passes through
}
