// core/tokenizer_bpe.cpp: byte-level BPE (see tokenizer_bpe.h) and its three file readers.
// Not here: which reader a folder needs (tokenizer.cpp); pre-tokenizer regexes, NFC (unicode.cpp).
// Source: HF tokenizers (models/bpe/word.rs: lowest rank first, leftmost on ties; ignore_merges),
// tiktoken (byte_pair_merge: rank of the concatenation), GPT-2 encoder.py (bytes_to_unicode).
// Cost: O(L log L) per distinct piece of L bytes, each distinct piece once per encode() call.
#include "core/tokenizer_bpe.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <queue>
#include <string_view>

#include "core/error.h"
#include "core/fs.h"

namespace twla {

namespace {

struct ByteMap {
  std::string spelled[256];
  int16_t inverse[512];   // code point -> byte, -1 if it stands for none
  ByteMap() {
    std::fill(std::begin(inverse), std::end(inverse), int16_t(-1));
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + extra++);
      unicode::append_utf8(spelled[b], cp);
      inverse[cp] = int16_t(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

std::string spell(const std::string& bytes) {   // bytes -> vocab-file spelling, for messages
  std::string s;
  for (unsigned char b : bytes) s += byte_to_unicode(b);
  return s;
}

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

std::string to_bytes(const std::string& spelled, const std::string& path, const char* what) {
  std::string b;
  TWLA_CHECK(
      unicode_to_bytes(spelled, b), path, ": ", what, " '", spelled,
      "' has characters outside GPT-2's byte alphabet; only byte-level BPE is supported here");
  return b;
}

// Calls f(line, line_no) for each line of text (without its '\n'; 1-based numbers).
template <class F>
void for_each_line(const std::string& text, F f) {
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = std::min(text.find('\n', pos), text.size());
    f(text.substr(pos, end - pos), ++line_no);
    pos = end + 1;
  }
}

bool b64decode(const std::string& in, std::string& out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  out.clear();
  if (in.empty() || in.size() % 4) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4], pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) { v[k] = 0; ++pad; continue; }
      if (pad || (v[k] = val(c)) < 0) return false;
    }
    uint32_t w =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += char(w >> 16);
    if (pad < 2) out += char((w >> 8) & 0xFF);
    if (pad < 1) out += char(w & 0xFF);
  }
  return true;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return byte_map().spelled[b]; }

nlohmann::json read_json(const std::string& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    TWLA_FAIL(path, ": not valid JSON (", e.what(), "); re-download the tokenizer file");
  }
}

void read_bpe_vocab(const nlohmann::json& vocab, const std::string& path, BpeSpec& s) {
  TWLA_CHECK(vocab.is_object() && !vocab.empty(), path,
             ": the vocabulary is not a {token: id} object");
  for (const auto& [spelled, id_json] : vocab.items()) {
    int64_t id = id_json.get<int64_t>();
    TWLA_CHECK(id >= 0 && id < (1 << 24), path, ": token '", spelled, "' has id ", id,
               " out of range");
    if (size_t(id) >= s.tokens.size()) s.tokens.resize(size_t(id) + 1);
    s.tokens[size_t(id)] = to_bytes(spelled, path, "token");
  }
}


bool unicode_to_bytes(const std::string& spelled, std::string& bytes) {
  bytes.clear();
  for (size_t i = 0, len; i < spelled.size(); i += len) {
    uint32_t cp = unicode::decode_utf8(&spelled[i], spelled.size() - i, len);
    if (cp >= 512 || byte_map().inverse[cp] < 0) return false;
    bytes += char(byte_map().inverse[cp]);
  }
  return true;
}

BpeTokenizer::BpeTokenizer(BpeSpec spec)
    : source_(spec.source), kind_(spec.kind), pretokenizer_(spec.pretokenizer), nfc_(spec.nfc),
      ignore_merges_(spec.ignore_merges), add_prefix_space_(spec.add_prefix_space) {
  bos_ = spec.bos, eos_ = spec.eos, add_bos_ = spec.add_bos;
  size_t n = spec.tokens.size();
  for (const auto& [text, id] : spec.specials) {
    TWLA_CHECK(id >= 0, spec.source, ": added token '", text, "' has a negative id ", id);
    n = std::max(n, size_t(id) + 1);
  }
  id_to_bytes_.assign(n, "");
  bytes_to_id_.reserve(spec.tokens.size());
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const std::string& t = spec.tokens[id];
    if (t.empty()) continue;
    id_to_bytes_[id] = t;
    auto [it, fresh] = bytes_to_id_.emplace(t, int32_t(id));
    TWLA_CHECK(fresh, spec.source, ": tokens ", it->second, " and ", id, " are both '", spell(t),
               "'; the vocabulary is corrupt");
  }
  for (const auto& [text, id] : spec.specials) {
    special_to_id_[text] = id;
    id_to_bytes_[size_t(id)] = text;
  }
  for (int b = 0; b < 256; ++b) {
    auto it = bytes_to_id_.find(std::string(1, char(b)));
    TWLA_CHECK(it != bytes_to_id_.end(), spec.source, ": byte ", b, " ('",
               byte_to_unicode(uint8_t(b)), "') has no token; not a byte-level BPE vocabulary");
    byte_id_[b] = it->second;
  }
  auto id_of = [&](const std::string& bytes) {
    auto it = bytes_to_id_.find(bytes);
    return it == bytes_to_id_.end() ? -1 : it->second;
  };
  if (spec.merge_by_rank) {   // every split of every token into two tokens is a merge
    for (const auto& [bytes, id] : bytes_to_id_)
      for (size_t k = 1; k < bytes.size(); ++k) {
        int32_t a = id_of(bytes.substr(0, k)), b = a < 0 ? -1 : id_of(bytes.substr(k));
        if (b >= 0) merges_.emplace(pair_key(a, b), Merge{id, id});
      }
  } else {
    merges_.reserve(spec.merges.size());
    for (size_t r = 0; r < spec.merges.size(); ++r) {
      const auto& [l, rt] = spec.merges[r];
      int32_t a = id_of(l), b = id_of(rt), m = id_of(l + rt);
      TWLA_CHECK(a >= 0 && b >= 0 && m >= 0, spec.source, ": merge ", r + 1, " '", spell(l), " ",
                 spell(rt),
                 "' names a token missing from the vocabulary; vocab and merges do not match");
      merges_.emplace(pair_key(a, b),
                      Merge{int32_t(r), m});   // a repeated rule keeps its first rank
    }
  }
}

const BpeTokenizer::Merge* BpeTokenizer::find_merge(int32_t a, int32_t b) const {
  auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeTokenizer::bpe(const std::string& piece, std::vector<int32_t>& out) const {
  const int n = int(piece.size());
  if (n == 1) {
    out.push_back(byte_id_[uint8_t(piece[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = bytes_to_id_.find(piece);
    if (it != bytes_to_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  struct Sym { int32_t id; int prev, next; };   // a doubly linked list of the current parts
  std::vector<Sym> s(piece.size());
  for (int i = 0; i < n; ++i)
    s[size_t(i)] = {byte_id_[uint8_t(piece[size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1};
  struct Cand {
    int32_t rank; int left, right; int32_t lid, rid, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  // Lowest rank first, leftmost on ties: HF word.rs and tiktoken agree on this order.
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
  auto push = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    if (const Merge* m = find_merge(s[size_t(l)].id, s[size_t(r)].id))
      q.push({m->rank, l, r, s[size_t(l)].id, s[size_t(r)].id, m->id});
  };
  for (int i = 0; i + 1 < n; ++i) push(i, i + 1);
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    Sym& L = s[size_t(c.left)];
    Sym& R = s[size_t(c.right)];
    if (L.id != c.lid || R.id != c.rid || L.next != c.right) continue;   // stale candidate
    L.id = c.merged;
    R.id = -1;
    L.next = R.next;
    if (L.next >= 0) s[size_t(L.next)].prev = c.left;
    push(L.prev, c.left);
    push(c.left, L.next);
  }
  for (int i = 0; i >= 0; i = s[size_t(i)].next) out.push_back(s[size_t(i)].id);
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& text) const {
  std::string norm = nfc_ ? unicode::nfc(text) : text;
  if (add_prefix_space_ && !norm.empty() && norm[0] != ' ') norm.insert(0, " ");
  std::vector<int32_t> out;
  out.reserve(norm.size() / 3 + 1);
  std::unordered_map<std::string_view, std::vector<int32_t>> cache;   // per call: thread safe
  std::string piece;
  for (const auto& [off, len] : unicode::pretokenize(norm, pretokenizer_)) {
    std::string_view key(norm.data() + off, len);
    auto it = cache.find(key);
    if (it == cache.end()) {
      std::vector<int32_t> ids;
      piece.assign(key.data(), key.size());
      bpe(piece, ids);
      it = cache.emplace(key, std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    TWLA_CHECK(id >= 0 && size_t(id) < id_to_bytes_.size(), "decode: token id ", id,
               " is outside [0, ", id_to_bytes_.size(), ") of the tokenizer ", source_);
    out += id_to_bytes_[size_t(id)];
  }
  return out;
}

int BpeTokenizer::token_to_id(const std::string& token) const {
  if (auto it = special_to_id_.find(token); it != special_to_id_.end()) return it->second;
  std::string bytes;
  if (!unicode_to_bytes(token, bytes)) return -1;
  auto it = bytes_to_id_.find(bytes);
  return it == bytes_to_id_.end() ? -1 : it->second;
}

// ---- readers ----

BpeSpec read_vocab_merges(const std::string& vocab_json, const std::string& merges_txt) {
  BpeSpec s;
  s.source = vocab_json + " + " + merges_txt;
  try {
    read_bpe_vocab(read_json(vocab_json), vocab_json, s);
  } catch (const nlohmann::json::exception& e) {
    TWLA_FAIL(vocab_json, ": unexpected content (", e.what(), "); expected {token: id}");
  }
  for_each_line(read_file(merges_txt), [&](std::string line, size_t line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) return;
    size_t sp = line.find(' ');
    TWLA_CHECK(sp != std::string::npos && sp > 0 && line.find(' ', sp + 1) == std::string::npos,
               merges_txt, ":", line_no, ": expected 'left right', got '", line, "'");
    s.merges.emplace_back(to_bytes(line.substr(0, sp), merges_txt, "merge part"),
                          to_bytes(line.substr(sp + 1), merges_txt, "merge part"));
  });
  TWLA_CHECK(!s.merges.empty(), merges_txt, ": no merge rules; is this a merges.txt?");
  return s;
}

bool is_tiktoken_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  TWLA_CHECK(f.good(), path, ": cannot open the tokenizer file");
  std::string head(256, '\0');
  f.read(&head[0], std::streamsize(head.size()));
  head.resize(size_t(f.gcount()));
  size_t sp = head.find(' '), nl = head.find('\n');
  if (sp == std::string::npos || nl == std::string::npos || sp == 0 || sp > nl) return false;
  for (size_t i = 0; i < sp; ++i)
    if (!isalnum((unsigned char)head[i]) && head[i] != '+' && head[i] != '/' && head[i] != '=')
      return false;
  for (size_t i = sp + 1; i < nl; ++i)
    if (!isdigit((unsigned char)head[i])) return false;
  return nl > sp + 1;
}

BpeSpec read_tiktoken_llama3(const std::string& path) {
  constexpr int kRanks =
      128000;   // Llama-3's file; the specials follow in code (Meta tokenizer.py)
  BpeSpec s;
  s.source = path;
  s.kind = "tiktoken";
  s.tokens.assign(kRanks, "");
  size_t count = 0;
  std::string bytes;
  for_each_line(read_file(path), [&](const std::string& line, size_t line_no) {
    if (line.empty()) return;
    size_t sp = line.find(' ');
    long rank = -1;
    if (sp != std::string::npos) rank = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    TWLA_CHECK(sp != std::string::npos && b64decode(line.substr(0, sp), bytes) && rank >= 0, path,
               ":", line_no, ": expected 'base64 rank', got '", line.substr(0, 60), "'");
    TWLA_CHECK(rank < kRanks && s.tokens[size_t(rank)].empty(), path, ":", line_no, ": rank ",
               rank, " is repeated or beyond ", kRanks, "; only Llama-3's tiktoken file is supported");
    s.tokens[size_t(rank)] = bytes;
    ++count;
  });
  TWLA_CHECK(count == size_t(kRanks), path, ": ", count, " ranks, expected Llama-3's ", kRanks,
             "; other tiktoken vocabularies need their own regex and specials");
  const char* named[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                         "<|reserved_special_token_1|>", "<|reserved_special_token_2|>",
                         "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
                         "<|reserved_special_token_4|>", "<|eot_id|>"};
  int id = kRanks;
  for (const char* t : named) s.specials.emplace_back(t, id++);
  for (int k = 5; id < kRanks + 256; ++k)
    s.specials.emplace_back(str("<|reserved_special_token_", k, "|>"), id++);
  s.merge_by_rank = true;
  s.ignore_merges = true;
  s.pretokenizer = unicode::Pretokenizer::kLlama3;
  s.bos = kRanks, s.eos = kRanks + 1, s.add_bos = true;
  return s;
}

}  // namespace twla
