// eval/tasks_hellaswag.cpp: HellaSwag validation as lm-eval builds it:
//   query   = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())
//   choices = [preprocess(e) for e in endings], continuation " " + choice, acc and acc_norm,
// where preprocess strips, turns " [title]" into ". ", deletes "[...]" and one pass of "  " -> " ".
// Two file formats: the original hellaswag_val.jsonl (exact), and llama.cpp's 6-line text
// (SOURCES.md), which holds preprocess(label + ": " + ctx_a + " " + ctx_b) with ctx_b NOT
// capitalized and ctx_a/ctx_b merged. For it we rebuild ctx_b by a heuristic (below).
// Not here: other tasks (tasks_qa.cpp, tasks_cloze.cpp).
// Source: lm-eval tasks/hellaswag/hellaswag.yaml + utils.py (checked 2026-11-26).
#include <cctype>

#include "core/error.h"
#include "core/strings.h"
#include "eval/tasks.h"
#include "eval/tasks_io.h"

namespace twla {

namespace {
// Python str.replace: left to right, non-overlapping.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (true) {
    size_t j = s.find(from, i);
    if (j == std::string::npos) break;
    out.append(s, i, j - i).append(to);
    i = j + from.size();
  }
  return out.append(s, i, std::string::npos);
}
}  // namespace

std::string hellaswag_preprocess(const std::string& text) {
  std::string s = replace_all(task_io::py_strip(text), " [title]", ". ");
  // re.sub("\\[.*?\\]", "", s): '.' does not match '\n', so a '[' whose next ']' lies beyond a
  // newline (or that has none) stays.
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != ']' && s[j] != '\n') ++j;
      if (j < s.size() && s[j] == ']') {
        i = j;
        continue;
      }
    }
    out += s[i];
  }
  return replace_all(out, "  ", " ");
}

std::string python_capitalize(const std::string& s) {
  std::string out = s;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if (c >= 0x80) continue;   // non-ASCII left alone (Python would case-map it too)
    out[i] = char(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

// The heuristic for the merged text "label: ctx_a ctx_b" (already preprocessed):
//  * if it ends in sentence punctuation (. ! ? " '), ctx_b was "" (all WikiHow items and ActivityNet
//    items whose context is whole sentences): nothing to capitalize;
//  * otherwise ctx_b is the unfinished sentence: the text after the last ". ", "! " or "? " that
//    follows the "label: " prefix, or all of the text after "label: " when there is none (ctx_a
//    empty). It gets Python's capitalize(): first letter up, the REST DOWN, as lm-eval does.
// Wrong where ctx_b itself holds a sentence end ("mr. smith"), or ctx_a lacks a final period;
// lm-eval would then also lowercase/uppercase a different span. Prefer hellaswag_val.jsonl.
std::string hellaswag_query_from_merged(const std::string& merged) {
  if (merged.empty()) return merged;
  const char last = merged.back();
  if (last == '.' || last == '!' || last == '?' || last == '"' || last == '\'') return merged;
  const size_t label_end = merged.find(": ");
  const size_t from = label_end == std::string::npos ? 0 : label_end + 2;
  size_t cut = std::string::npos;
  for (const char* end : {". ", "! ", "? "}) {
    size_t p = merged.rfind(end);
    if (p != std::string::npos && p >= from && (cut == std::string::npos || p + 2 > cut)) cut = p + 2;
  }
  if (cut == std::string::npos) cut = from;
  return merged.substr(0, cut) + python_capitalize(merged.substr(cut));
}

TaskDoc hellaswag_doc(const std::string& activity_label, const std::string& ctx_a,
                      const std::string& ctx_b, const std::vector<std::string>& endings,
                      int label) {
  TaskDoc d;
  const std::string query =
      hellaswag_preprocess(activity_label + ": " + ctx_a + " " + python_capitalize(ctx_b));
  for (const auto& e : endings) d.choices.push_back(hellaswag_preprocess(e));
  for (const auto& c : d.choices) d.requests.push_back({query, " " + c});
  d.gold = label;
  return d;
}

namespace task_io {

namespace {
std::vector<TaskDoc> load_hellaswag_jsonl(const std::string& path) {
  std::vector<TaskDoc> docs;
  const std::string fmt =
      "hellaswag_val.jsonl lines {activity_label, ctx_a, ctx_b, endings: [4 strings], label}";
  for_each_jsonl(path, fmt, [&](const nlohmann::json& j, const Where& w) {
    const auto& e = field(j, "endings", w);
    if (!e.is_array() || e.size() != 4) fail(w, "field 'endings' is not an array of 4 strings");
    std::vector<std::string> endings;
    for (const auto& x : e) {
      if (!x.is_string()) fail(w, "field 'endings' holds a non-string");
      endings.push_back(x.get<std::string>());
    }
    const auto& l = field(j, "label", w);
    int label = -1;
    if (l.is_number_integer()) label = l.get<int>();
    if (l.is_string() && l.get<std::string>().size() == 1) label = l.get<std::string>()[0] - '0';
    if (label < 0 || label > 3) fail(w, "field 'label' is not 0..3");
    TaskDoc d = hellaswag_doc(str(j, "activity_label", w), str(j, "ctx_a", w), str(j, "ctx_b", w),
                              endings, label);
    d.id = j.contains("ind") ? "ind " + j["ind"].dump() : "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  });
  return docs;
}

std::vector<TaskDoc> load_hellaswag_text(const std::string& path) {
  const auto lines = read_lines(path);
  const std::string fmt = "llama.cpp HellaSwag text: 6 lines per task (context, gold 0..3, 4 endings)";
  if (lines.size() % 6 != 0)
    fail(Where{path, int64_t(lines.size()), fmt},
         "the file has " + std::to_string(lines.size()) + " lines, not a multiple of 6 (truncated?)");
  std::vector<TaskDoc> docs;
  for (size_t i = 0; i < lines.size(); i += 6) {
    const Where w{path, int64_t(i) + 2, fmt};
    const std::string& g = lines[i + 1];
    if (g.size() != 1 || g[0] < '0' || g[0] > '3') fail(w, "field 'label' = '" + g + "' is not 0..3");
    if (lines[i].empty()) fail(Where{path, int64_t(i) + 1, fmt}, "field 'context' is empty");
    TaskDoc d;
    const std::string query = hellaswag_query_from_merged(lines[i]);
    for (int k = 0; k < 4; ++k) {
      d.choices.push_back(lines[i + 2 + size_t(k)]);   // already preprocessed in this format
      d.requests.push_back({query, " " + d.choices.back()});
    }
    d.gold = g[0] - '0';
    d.line = int64_t(i) + 1;
    d.id = "task " + std::to_string(i / 6);
    docs.push_back(std::move(d));
  }
  return docs;
}
}  // namespace

std::vector<TaskDoc> load_hellaswag(const std::string& path) {
  return ends_with(path, ".jsonl") ? load_hellaswag_jsonl(path) : load_hellaswag_text(path);
}

}  // namespace task_io
}  // namespace twla
