// eval/tasks.cpp: the zero-shot task registry (one visible table) and the file readers of
// tasks_io.h. Not here: the per-task document conversions (tasks_qa.cpp, tasks_hellaswag.cpp,
// tasks_cloze.cpp). Source: lm-eval task YAMLs named in tasks.h; shared/data/SOURCES.md.
#include "eval/tasks.h"

#include "core/error.h"
#include "core/fs.h"
#include "eval/tasks_io.h"

namespace twla {
namespace task_io {

void fail(const Where& w, const std::string& what) {
  TWLA_FAIL(w.str(), ": ", what, "; expected ", w.format,
            " (formats: shared/data/SOURCES.md)");
}

std::string py_strip(const std::string& s) {
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); };
  size_t b = 0, e = s.size();
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

void for_each_jsonl(const std::string& path, const std::string& format,
                    const std::function<void(const nlohmann::json&, const Where&)>& f) {
  const auto lines = read_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    Where w{path, int64_t(i) + 1, format};
    if (lines[i].find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[i]);
    } catch (const nlohmann::json::exception& e) {
      fail(w, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail(w, "the line is not a JSON object");
    f(j, w);
  }
}

const nlohmann::json& field(const nlohmann::json& j, const std::string& name, const Where& w) {
  const nlohmann::json* cur = &j;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string key = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(key)) fail(w, "field '" + name + "' is missing");
    cur = &(*cur)[key];
    if (dot == std::string::npos) return *cur;
    start = dot + 1;
  }
}

std::string str(const nlohmann::json& j, const std::string& name, const Where& w) {
  const auto& v = field(j, name, w);
  if (!v.is_string()) fail(w, "field '" + name + "' is " + v.type_name() + ", not a string");
  return v.get<std::string>();
}

void choices(const nlohmann::json& j, const std::string& name, const Where& w,
             std::vector<std::string>* texts, std::vector<std::string>* labels) {
  const auto& c = field(j, name, w);
  if (!c.is_array() || c.empty())
    fail(w, "field '" + name + "' must be a non-empty array of {text, label}");
  for (size_t i = 0; i < c.size(); ++i) {
    const std::string at = name + "[" + std::to_string(i) + "]";
    if (!c[i].is_object()) fail(w, "field '" + at + "' is not an object {text, label}");
    texts->push_back(str(c[i], "text", Where{w.path, w.line, w.format}));
    labels->push_back(str(c[i], "label", Where{w.path, w.line, w.format}));
  }
}

}  // namespace task_io

namespace {

// A task is its loader and lm-eval's metric list; no parameters, so the registry row is all.
class TaskDef : public ZeroShotTask {
 public:
  using Loader = std::vector<TaskDoc> (*)(const std::string&);
  TaskDef(TaskOutput out, bool acc_norm, std::vector<std::string> files, Loader load)
      : out_(out), acc_norm_(acc_norm), files_(std::move(files)), load_(load) {}
  TaskOutput output() const override { return out_; }
  bool has_acc_norm() const override { return acc_norm_; }
  std::vector<std::string> files() const override { return files_; }
  std::vector<TaskDoc> load(const std::string& path) const override { return load_(path); }

 private:
  TaskOutput out_;
  bool acc_norm_;
  std::vector<std::string> files_;
  Loader load_;
};

Registry<ZeroShotTask>::Entry row(const std::string& name, const std::string& help,
                                  TaskOutput out, bool acc_norm, std::vector<std::string> files,
                                  TaskDef::Loader load) {
  return {name, help,
          [=](const YAML::Node& params, const std::string& path) -> std::unique_ptr<ZeroShotTask> {
            TWLA_CHECK(!params || params.IsNull() || params.size() == 0, path, ": task '", name,
                       "' takes no parameters; remove them");
            return std::make_unique<TaskDef>(out, acc_norm, files, load);
          },
          [](const std::string&) { return std::vector<FieldInfo>{}; }};
}

}  // namespace

const Registry<ZeroShotTask>& zeroshot_tasks() {
  using namespace task_io;
  const auto mc = TaskOutput::kMultipleChoice;
  static const Registry<ZeroShotTask> r{
      "zero-shot task",
      {row("piqa", "PIQA validation, 'Question: {goal}\\nAnswer:' + [sol1, sol2]", mc, true,
           {"data/piqa/valid.jsonl"}, load_piqa),
       row("arc_easy", "ARC-Easy test, 'Question: {q}\\nAnswer:' + choice texts", mc, true,
           {"data/arc/ARC-Easy-Test.jsonl"}, load_arc),
       row("arc_challenge", "ARC-Challenge test, as arc_easy", mc, true,
           {"data/arc/ARC-Challenge-Test.jsonl"}, load_arc),
       row("hellaswag", "HellaSwag validation, preprocessed label: ctx_a Ctx_b + endings", mc,
           true, {"data/hellaswag/hellaswag_val.jsonl", "data/hellaswag/hellaswag_val_full.txt"},
           load_hellaswag),
       row("winogrande", "WinoGrande dev (xl validation), partial evaluation", mc, false,
           {"data/winogrande/dev.jsonl"}, load_winogrande),
       row("lambada_openai", "LAMBADA (OpenAI text), last word: greedy acc and perplexity",
           TaskOutput::kLastWord, false, {"data/lambada/lambada_test.jsonl"}, load_lambada_jsonl),
       row("lambada_standard", "LAMBADA (original plain text test), as lambada_openai",
           TaskOutput::kLastWord, false, {"data/lambada/lambada_test_plain_text.txt"},
           load_lambada_plain),
       row("boolq", "BoolQ dev (SuperGLUE), '{passage}\\nQuestion: {q}?\\nAnswer:' + [no, yes]",
           mc, false, {"data/boolq/dev.jsonl"}, load_boolq),
       row("openbookqa", "OpenBookQA main test, question_stem + choice texts", mc, true,
           {"data/openbookqa/test.jsonl"}, load_openbookqa)}};
  return r;
}

}  // namespace twla
