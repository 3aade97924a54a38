// results/text_table.h: aligned text columns for Markdown tables and `twla show`, measured in
// characters, not bytes, so "–" and non-ASCII names line up.
// Not here: which columns a report has (report.cpp), LaTeX and CSV (no alignment needed).
#pragma once
#include <string>
#include <vector>

namespace twla {

// Display width of UTF-8 text: one per code point (no East Asian wide-character handling).
size_t display_width(const std::string& utf8);

struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;   // each as long as header
  std::vector<bool> right;                      // per column: right-align (numbers)

  // GitHub Markdown: padded cells, ":---" / "---:" alignment row, '|' in cells escaped.
  std::string markdown() const;
  // Columns separated by two spaces, each line prefixed by `indent`; no trailing spaces.
  std::string plain(const std::string& indent = "  ") const;
};

}  // namespace twla
