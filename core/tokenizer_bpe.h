// core/tokenizer_bpe.h: byte-level BPE (GPT-2, Llama-3, Qwen2/3) and the readers of two of its
// file formats: vocab.json + merges.txt, and Llama-3's tiktoken tokenizer.model.
// Not here: choosing among formats and reading HF tokenizer.json (tokenizer.cpp); the regex
// pre-tokenizers and NFC (unicode.cpp).
// Source: GPT-2 encoder.py (bytes_to_unicode), HF tokenizers models/bpe, tiktoken CoreBPE.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tokenizer.h"
#include "core/unicode.h"

namespace twla {

// Everything a byte-level BPE needs, with tokens as raw bytes (GPT-2's byte-to-unicode mapping
// already undone), so the three file formats meet in one representation.
struct BpeSpec {
  std::string source;                     // the file(s) it came from, for error messages
  std::string kind = "bpe";               // Tokenizer::kind(): "bpe" or "tiktoken"
  std::vector<std::string> tokens;        // id -> bytes of the model vocabulary ("" = unused id)
  // Merge rules in rank order (HF). Empty with merge_by_rank: tiktoken's rule, a pair merges iff
  // its concatenation is a token, the lower id first.
  std::vector<std::pair<std::string, std::string>> merges;
  bool merge_by_rank = false;
  std::vector<std::pair<std::string, int32_t>> specials;   // added tokens: text, id (decode only)
  unicode::Pretokenizer pretokenizer = unicode::Pretokenizer::kGpt2;
  bool nfc = false;             // normalize to NFC first (Qwen2)
  bool ignore_merges = false;   // a piece that is a whole token is emitted as is (Llama-3)
  bool add_prefix_space = false;
  int bos = -1, eos = -1;       // from the format's defaults or post-processor template
  bool add_bos = false;
};

class BpeTokenizer : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec);
  std::vector<int32_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int vocab_size() const override { return int(id_to_bytes_.size()); }
  std::string kind() const override { return kind_; }
  int token_to_id(const std::string& token) const override;

 private:
  struct Merge { int32_t rank, id; };
  // BPE of one pre-tokenized piece (bytes), appended to out.
  void bpe(const std::string& piece, std::vector<int32_t>& out) const;
  const Merge* find_merge(int32_t a, int32_t b) const;

  std::string source_, kind_;
  unicode::Pretokenizer pretokenizer_;
  bool nfc_, ignore_merges_, add_prefix_space_;
  std::unordered_map<std::string, int32_t> bytes_to_id_;    // the model vocabulary
  std::unordered_map<std::string, int32_t> special_to_id_;  // added tokens, by text
  std::vector<std::string> id_to_bytes_;                    // every id, specials as their text
  std::unordered_map<uint64_t, Merge> merges_;              // (left id, right id) -> merge
  int32_t byte_id_[256];                                    // the token of each single byte
};

// GPT-2's bytes_to_unicode: the printable character that stands for a byte in vocab files.
const std::string& byte_to_unicode(uint8_t b);
// The inverse over a whole token spelling; false if some character stands for no byte.
bool unicode_to_bytes(const std::string& spelled, std::string& bytes);

// Readers; each throws Error naming the file when it is missing or malformed. (HF tokenizer.json
// is read in tokenizer.cpp, next to tokenizer_config.json, whose keys it shares.)
BpeSpec read_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
BpeSpec read_tiktoken_llama3(const std::string& path);
// Shared with tokenizer.cpp's tokenizer.json reader: a JSON file (Error naming it if malformed),
// and a {spelled token: id} vocabulary into s.tokens.
nlohmann::json read_json(const std::string& path);
void read_bpe_vocab(const nlohmann::json& vocab, const std::string& path, BpeSpec& s);
// True if the file looks like tiktoken text (lines "base64 rank"), not a SentencePiece protobuf.
bool is_tiktoken_file(const std::string& path);

}  // namespace twla
