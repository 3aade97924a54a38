// eval/wikitext_lmeval.cpp: see wikitext_lmeval.h.
#include "eval/wikitext_lmeval.h"

#include <cmath>

#include "core/error.h"

namespace twla {
namespace {

// The code point starting at s[i] and its length in bytes (invalid bytes count as themselves).
char32_t code_point(const std::string& s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) n = 1;
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3F);
  *len = n;
  return cp;
}

// Python's str.isspace(), which is what \s matches in a str pattern.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// Length of the whitespace run starting at i.
size_t space_run(const std::string& s, size_t i) {
  size_t j = i, n = 0;
  while (j < s.size() && py_space(code_point(s, j, &n))) j += n;
  return j - i;
}

// s without trailing Python whitespace.
std::string rtrim_py(const std::string& s) {
  size_t end = 0, i = 0, n = 0;
  while (i < s.size()) {
    if (!py_space(code_point(s, i, &n))) end = i + n;
    i += n;
  }
  return s.substr(0, end);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  for (size_t j; (j = s.find(from, i)) != std::string::npos; i = j + from.size())
    out.append(s, i, j - i).append(to);
  return out.append(s, i, std::string::npos);
}

// re.sub(r"O\s*([^C]*?)\s*C", r"O\1C", s) for an opening and closing ASCII character.
std::string trim_inside(const std::string& s, char open, char close) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t o = s.find(open, i);
    if (o == std::string::npos) break;
    const size_t c = s.find(close, o + 1);
    if (c == std::string::npos) break;   // no match at o, nor at any later opening
    const size_t a = o + 1 + space_run(s, o + 1);
    out.append(s, i, o - i).push_back(open);
    if (a < c) out += rtrim_py(s.substr(a, c - a));
    out.push_back(close);
    i = c + 1;
  }
  return out.append(s, i, std::string::npos);
}

// re.sub(r"/' [0-9]/", r"/'[0-9]/", s): the replacement is the literal text (lm-eval's own slip).
std::string slash_quote_digit(const std::string& s) {
  std::string out;
  size_t i = 0;
  for (size_t j; (j = s.find("/' ", i)) != std::string::npos;) {
    if (j + 4 < s.size() && s[j + 3] >= '0' && s[j + 3] <= '9' && s[j + 4] == '/') {
      out.append(s, i, j - i).append("/'[0-9]/");
      i = j + 5;
    } else {
      out.append(s, i, j + 1 - i);
      i = j + 1;
    }
  }
  return out.append(s, i, std::string::npos);
}

bool is_title_line(const std::string& line) {
  std::string r = rtrim_py(replace_all(replace_all(line, "= = =", "==="), "= =", "=="));
  r = r.substr(space_run(r, 0));   // Python's str.strip()
  return r.size() >= 2 && r.compare(0, 2, "= ") == 0 && r.compare(r.size() - 2, 2, " =") == 0;
}

}  // namespace

std::vector<std::string> wikitext_pages(const std::string& raw) {
  std::vector<std::string> pages, lines;
  auto joined = [&] {
    std::string p;
    for (size_t k = 0; k < lines.size(); ++k) p += (k ? "\n" : "") + lines[k];
    return p;
  };
  size_t i = 0;
  while (true) {
    const size_t j = raw.find('\n', i);
    const std::string line = raw.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (is_title_line(line)) {
      std::string page = joined();
      if (space_run(page, 0) < page.size()) pages.push_back(page);   // page.strip() != ""
      lines.clear();
    }
    lines.push_back(line);
    if (j == std::string::npos) break;
    i = j + 1;
  }
  pages.push_back(joined());
  return pages;
}

std::string wikitext_detokenize(const std::string& page) {
  std::string s = replace_all(page, "s '", "s'");
  s = slash_quote_digit(s);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {" @-@ ", "-"}, {" @,@ ", ","}, {" @.@ ", "."}, {" : ", ": "}, {" ; ", "; "},
           {" . ", ". "}, {" ! ", "! "}, {" ? ", "? "}, {" , ", ", "}})
    s = replace_all(s, from, to);
  s = trim_inside(s, '(', ')');
  s = trim_inside(s, '[', ']');
  s = trim_inside(s, '{', '}');
  s = trim_inside(s, '"', '"');
  s = trim_inside(s, '\'', '\'');
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"= = = =", "===="}, {"= = =", "==="}, {"= =", "=="}, {" \xC2\xB0 ", "\xC2\xB0"},
           {" \n", "\n"}, {"\n ", "\n"}, {" N ", " 1 "}, {" 's", "'s"}})
    s = replace_all(s, from, to);
  return s;
}

int64_t python_split_ws_count(const std::string& s) {
  int64_t runs = 0;
  size_t i = 0, n = 0;
  while (i < s.size()) {
    if (py_space(code_point(s, i, &n))) {
      ++runs;
      i += space_run(s, i);
    } else {
      i += n;
    }
  }
  return runs + 1;
}

std::vector<LlRequest> rolling_requests(const std::vector<int32_t>& tokens, int32_t prefix,
                                        int64_t max_len) {
  TWLA_CHECK(max_len >= 1, "rolling windows need max_len >= 1, got ", max_len);
  std::vector<LlRequest> out;
  const int64_t n = int64_t(tokens.size());
  if (n == 0) return out;
  const int64_t first = std::min(max_len, n);
  LlRequest r0;
  r0.context = {prefix};
  r0.continuation.assign(tokens.begin(), tokens.begin() + first);
  out.push_back(std::move(r0));
  for (int64_t done = first; done < n;) {
    const int64_t pred = std::min(n - done, max_len), end = done + pred;
    LlRequest r;   // make_disjoint_window: context = the window's tokens before the predicted ones
    r.context.assign(tokens.begin() + (end - max_len - 1), tokens.begin() + done);
    r.continuation.assign(tokens.begin() + done, tokens.begin() + end);
    out.push_back(std::move(r));
    done = end;
  }
  return out;
}

WikitextLmevalResult wikitext_lmeval(const Model& m, const LinearOps& ops, const Tokenizer& tok,
                                     const std::string& raw_text, const LlOptions& o,
                                     int64_t limit) {
  std::vector<std::string> pages = wikitext_pages(raw_text);
  if (limit >= 0 && int64_t(pages.size()) > limit) pages.resize(size_t(limit));
  const int32_t prefix = tok.bos_id() >= 0 ? tok.bos_id() : tok.eos_id();
  TWLA_CHECK(prefix >= 0, "wikitext2-lmeval: the tokenizer has neither a BOS nor an EOS id to ",
             "start the first window with; set bos_token in tokenizer_config.json");
  const int64_t max_len = o.max_length > 0 ? o.max_length : m.config().max_position_embeddings;
  WikitextLmevalResult res;
  std::vector<LlRequest> reqs;
  for (const auto& page : pages) {
    const std::vector<int32_t> ids = tok.encode(wikitext_detokenize(page));
    for (auto& r : rolling_requests(ids, prefix, max_len)) reqs.push_back(std::move(r));
    res.words += python_split_ws_count(page);
    res.bytes += int64_t(page.size());
    res.tokens += int64_t(ids.size());
  }
  res.docs = int64_t(pages.size());
  res.windows = int64_t(reqs.size());
  LlOptions lo = o;
  lo.max_length = max_len;
  lo.reuse_prefix = false;   // windows share no prefix
  for (const auto& r : loglikelihood(m, ops, reqs, lo)) res.loglikelihood += r.logprob;
  res.word_perplexity = std::exp(-res.loglikelihood / double(res.words));
  res.byte_perplexity = std::exp(-res.loglikelihood / double(res.bytes));
  res.bits_per_byte = -res.loglikelihood / double(res.bytes) / std::log(2.0);
  return res;
}

}  // namespace twla
