// core/unicode.cpp: UTF-8, code-point classes, NFC and the pre-tokenizer matchers (see unicode.h).
// Not here: the tables (unicode_tables.cpp, generated). Source: UAX #15 for NFC (decompose,
// canonical order, compose; Hangul algorithmic, §3.12 of the Unicode standard); the regexes are
// those of GPT-2 (encoder.py), Llama-3 (tiktoken pat_str) and Qwen2 (tokenizer.json).
#include "core/unicode.h"

#include <algorithm>

namespace twla::unicode {

namespace {

const Range* find_range(const Range* t, size_t n, uint32_t cp) {
  const Range* end = t + n;
  const Range* r =
      std::upper_bound(t, end, cp, [](uint32_t c, const Range& x) { return c < x.first; });
  if (r == t) return nullptr;
  --r;
  return cp <= r->last ? r : nullptr;
}

// Hangul syllable constants of the Unicode standard §3.12.
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr uint32_t kSCount = kLCount * kNCount;

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (cp >= 0xC0 && cp < kInvalidBase) {
    const Triple* t = tables::kDecomposition;
    const Triple* end = t + tables::kDecomposition_size;
    const Triple* d =
        std::lower_bound(t, end, cp, [](const Triple& x, uint32_t c) { return x.a < c; });
    if (d != end && d->a == cp) {
      decompose(d->b, out);
      if (d->c) decompose(d->c, out);
      return;
    }
  }
  out.push_back(cp);
}

uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Triple* t = tables::kComposition;
  const Triple* end = t + tables::kComposition_size;
  const Triple* c = std::lower_bound(t, end, Triple{a, b, 0}, [](const Triple& x, const Triple& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  return (c != end && c->a == a && c->b == b) ? c->c : 0;
}

}  // namespace

uint32_t decode_utf8(const char* s, size_t n, size_t& len) {
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  uint32_t b0 = u[0];
  len = 1;
  if (b0 < 0x80) return b0;
  int extra = b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : b0 >= 0xC0 ? 1 : -1;
  if (extra < 0 || b0 > 0xF4 || size_t(extra) >= n) return kInvalidBase + b0;
  uint32_t cp = b0 & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    if ((u[k] & 0xC0) != 0x80) return kInvalidBase + b0;
    cp = (cp << 6) | (u[k] & 0x3F);
  }
  static const uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalidBase + b0;
  len = size_t(extra) + 1;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp >= kInvalidBase) {
    out += char(cp - kInvalidBase);
  } else if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

std::vector<uint32_t> to_code_points(const std::string& s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0, len; i < s.size(); i += len)
    out.push_back(decode_utf8(&s[i], s.size() - i, len));
  return out;
}

Category category(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return kLetter;
    if (cp >= '0' && cp <= '9') return kNumber;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return kSpace;
    return kOther;
  }
  const Range* r = find_range(tables::kCategory, tables::kCategory_size, cp);
  return r ? Category(r->value) : kOther;
}

int combining_class(uint32_t cp) {
  if (cp < 0x300) return 0;
  const Range* r = find_range(tables::kCombining, tables::kCombining_size, cp);
  return r ? int(r->value) : 0;
}

std::string nfc(const std::string& s) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return (unsigned char)c < 0x80; })) return s;
  // 1. Full canonical decomposition.
  std::vector<uint32_t> d;
  d.reserve(s.size());
  for (size_t i = 0, len; i < s.size(); i += len)
    decompose(decode_utf8(&s[i], s.size() - i, len), d);
  // 2. Canonical ordering: stable sort of every run of non-starters by combining class.
  std::vector<int> cc(d.size());
  for (size_t i = 0; i < d.size(); ++i) cc[i] = combining_class(d[i]);
  for (size_t i = 0; i < d.size();) {
    if (cc[i] == 0) { ++i; continue; }
    size_t j = i;
    while (j < d.size() && cc[j] != 0) ++j;
    if (j - i > 1) {
      std::vector<std::pair<int, uint32_t>> run;
      for (size_t k = i; k < j; ++k) run.emplace_back(cc[k], d[k]);
      std::stable_sort(run.begin(), run.end(), [](auto& a, auto& b) { return a.first < b.first; });
      for (size_t k = i; k < j; ++k) cc[k] = run[k - i].first, d[k] = run[k - i].second;
    }
    i = j;
  }
  // 3. Canonical composition: a character joins the last starter unless a character between
  //    them has class 0 or a class >= its own (it is "blocked").
  std::vector<uint32_t> r;
  r.reserve(d.size());
  long starter = -1;
  int last_cc = -1;   // class of r.back() when it is not the starter; -1: r.back() is the starter
  for (size_t i = 0; i < d.size(); ++i) {
    if (starter >= 0 && (last_cc < 0 || (last_cc != 0 && last_cc < cc[i]))) {
      if (uint32_t c = compose(r[starter], d[i])) {
        r[starter] = c;
        continue;
      }
    }
    if (cc[i] == 0) {
      starter = long(r.size());
      last_cc = -1;
    } else {
      last_cc = cc[i];
    }
    r.push_back(d[i]);
  }
  std::string out;
  out.reserve(s.size());
  for (uint32_t c : r) append_utf8(out, c);
  return out;
}

const char* regex_of(Pretokenizer p) {
  switch (p) {
    case Pretokenizer::kGpt2:
      return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    case Pretokenizer::kLlama3:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    case Pretokenizer::kQwen2:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  return "";
}

namespace {

// One regex matcher over decoded text: match(i) is the end of the leftmost-first match at i,
// written out alternative by alternative with the regex's backtracking resolved by hand.
struct Matcher {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> cat;
  size_t n = 0;

  bool is(size_t i, Category c) const { return i < n && cat[i] == c; }
  bool crlf(size_t i) const { return i < n && (cp[i] == '\r' || cp[i] == '\n'); }
  size_t run_end(size_t i, Category c) const {
    while (i < n && cat[i] == c) ++i;
    return i;
  }
  // 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive (then U+017F long s folds to s too).
  size_t contraction(size_t i, bool icase) const {
    if (cp[i] != '\'') return 0;
    auto low = [&](size_t k) -> uint32_t {
      if (k >= n) return 0;
      uint32_t c = cp[k];
      if (!icase) return c;
      if (c >= 'A' && c <= 'Z') return c + 32;
      return c == 0x17F ? 's' : c;
    };
    uint32_t a = low(i + 1), b = low(i + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }
  // \s+(?!\S)|\s+ at a white-space run: a run followed by a non-space leaves its last character
  // to that next piece (when the run is longer than one).
  size_t spaces(size_t i) const {
    size_t e = run_end(i, kSpace);
    return (e == n || e - i < 2) ? e : e - 1;
  }
  // GPT-2: 's|..|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  size_t gpt2(size_t i) const {
    if (size_t k = contraction(i, false)) return i + k;
    size_t j = (cp[i] == ' ' && i + 1 < n && cat[i + 1] != kSpace) ? i + 1 : i;
    if (cat[j] != kSpace) return run_end(j, Category(cat[j]));
    return spaces(i);
  }
  // Llama-3 (max_digits 3) and Qwen2 (1): (?i:'s|..|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}|
  // ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  size_t llama3(size_t i, size_t max_digits) const {
    if (size_t k = contraction(i, true)) return i + k;
    if (cat[i] == kLetter) return run_end(i, kLetter);
    if (cat[i] != kNumber && !crlf(i) && is(i + 1, kLetter)) return run_end(i + 1, kLetter);
    if (cat[i] == kNumber) {
      size_t e = i + 1;
      while (e < n && e - i < max_digits && cat[e] == kNumber) ++e;
      return e;
    }
    size_t j = (cp[i] == ' ' && is(i + 1, kOther)) ? i + 1 : i;
    if (cat[j] == kOther) {
      size_t e = run_end(j, kOther);
      while (crlf(e)) ++e;
      return e;
    }
    // cat[i] == kSpace. \s*[\r\n]+ ends right after the run's last CR/LF, if it has one.
    size_t e = run_end(i, kSpace), last_nl = n;
    for (size_t k = i; k < e; ++k)
      if (crlf(k)) last_nl = k;
    if (last_nl != n) return last_nl + 1;
    return spaces(i);
  }
};

}  // namespace

std::vector<std::pair<size_t, size_t>> pretokenize(const std::string& text, Pretokenizer p) {
  Matcher m;
  std::vector<size_t> off;
  m.cp.reserve(text.size());
  off.reserve(text.size() + 1);
  for (size_t i = 0, len; i < text.size(); i += len) {
    off.push_back(i);
    m.cp.push_back(decode_utf8(&text[i], text.size() - i, len));
    m.cat.push_back(category(m.cp.back()));
  }
  m.n = m.cp.size();
  off.push_back(text.size());
  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < m.n;) {
    size_t e = p == Pretokenizer::kGpt2    ? m.gpt2(i)
               : p == Pretokenizer::kLlama3 ? m.llama3(i, 3)
                                            : m.llama3(i, 1);
    pieces.emplace_back(off[i], off[e] - off[i]);
    i = e;
  }
  return pieces;
}

}  // namespace twla::unicode
