// results/text_table.cpp: padding and the Markdown alignment row for results/text_table.h.
#include "results/text_table.h"

#include <algorithm>

#include "core/error.h"

namespace twla {

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;   // count all but continuation bytes
  return n;
}

namespace {

std::string pad(const std::string& s, size_t width, bool right) {
  std::string fill(width > display_width(s) ? width - display_width(s) : 0, ' ');
  return right ? fill + s : s + fill;
}

std::string escape_pipe(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::vector<size_t> widths(const std::vector<std::vector<std::string>>& lines, size_t minimum) {
  std::vector<size_t> w(lines.empty() ? 0 : lines[0].size(), minimum);
  for (const auto& line : lines)
    for (size_t c = 0; c < line.size(); ++c) w[c] = std::max(w[c], display_width(line[c]));
  return w;
}

std::string rtrim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string TextTable::markdown() const {
  std::vector<std::vector<std::string>> lines{header};
  for (const auto& r : rows) lines.push_back(r);
  for (auto& line : lines) {
    TWLA_ASSERT(line.size() == header.size(), "ragged table row");
    for (auto& cell : line) cell = escape_pipe(cell);
  }
  std::vector<size_t> w = widths(lines, 3);   // room for ":--"
  auto is_right = [&](size_t c) { return c < right.size() && right[c]; };
  std::string out;
  auto emit = [&](const std::vector<std::string>& line) {
    out += "|";
    for (size_t c = 0; c < line.size(); ++c) out += " " + pad(line[c], w[c], is_right(c)) + " |";
    out += "\n";
  };
  emit(lines[0]);
  out += "|";
  for (size_t c = 0; c < w.size(); ++c)
    out += is_right(c) ? std::string(w[c] + 1, '-') + ":|" : ":" + std::string(w[c] + 1, '-') + "|";
  out += "\n";
  for (size_t i = 1; i < lines.size(); ++i) emit(lines[i]);
  return out;
}

std::string TextTable::plain(const std::string& indent) const {
  std::vector<std::vector<std::string>> lines;
  if (!header.empty()) lines.push_back(header);
  for (const auto& r : rows) lines.push_back(r);
  std::vector<size_t> w = widths(lines, 0);
  std::string out;
  for (const auto& line : lines) {
    std::string s = indent;
    for (size_t c = 0; c < line.size(); ++c) {
      bool r = c < right.size() && right[c];
      s += (c ? "  " : "") + pad(line[c], w[c], r);
    }
    out += rtrim(s) + "\n";
  }
  return out;
}

}  // namespace twla
