// eval/tasks_io.h: reading task files with errors that name file, line and field (internal to
// the tasks_*.cpp loaders). JSONL: one object per line, blank lines skipped.
// Not here: the per-task document conversion (tasks_*.cpp).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/tasks.h"

namespace twla::task_io {

// Where a value came from: "file:line" plus the task's expected format for the fix.
struct Where {
  std::string path;
  int64_t line = 0;
  std::string format;   // "PIQA valid.jsonl: {goal, sol1, sol2}"
  std::string str() const { return path + ":" + std::to_string(line); }
};

// Calls f(object, where) for each non-empty line; bad JSON or a non-object is an Error.
void for_each_jsonl(const std::string& path, const std::string& format,
                    const std::function<void(const nlohmann::json&, const Where&)>& f);
// The lines of a text file ("\r\n" or "\n"), without a final empty line after the last "\n".
std::vector<std::string> read_lines(const std::string& path);

// field may be dotted ("question.stem"). Errors name the field, what was expected and the format.
const nlohmann::json& field(const nlohmann::json& j, const std::string& name, const Where& w);
std::string str(const nlohmann::json& j, const std::string& name, const Where& w);
// "choices" as [{text, label}, ...] -> texts, labels.
void choices(const nlohmann::json& j, const std::string& name, const Where& w,
             std::vector<std::string>* texts, std::vector<std::string>* labels);

[[noreturn]] void fail(const Where& w, const std::string& what);

// Python str.strip() for ASCII text: also \v, \f and \x1c..\x1f (non-ASCII spaces are kept).
std::string py_strip(const std::string& s);

}  // namespace twla::task_io

namespace twla::task_io {
// The loaders behind the registry rows (tasks.cpp), one per task file format.
std::vector<TaskDoc> load_piqa(const std::string& path);        // + <stem>-labels.lst beside it
std::vector<TaskDoc> load_arc(const std::string& path);
std::vector<TaskDoc> load_openbookqa(const std::string& path);
std::vector<TaskDoc> load_boolq(const std::string& path);
std::vector<TaskDoc> load_hellaswag(const std::string& path);   // .jsonl or llama.cpp .txt
std::vector<TaskDoc> load_winogrande(const std::string& path);
std::vector<TaskDoc> load_lambada_jsonl(const std::string& path);
std::vector<TaskDoc> load_lambada_plain(const std::string& path);
}  // namespace twla::task_io
