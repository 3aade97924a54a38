// eval/tasks_qa.cpp: question-answer tasks: PIQA, ARC-Easy/Challenge, OpenBookQA, BoolQ.
// Not here: HellaSwag (tasks_hellaswag.cpp), WinoGrande and LAMBADA (tasks_cloze.cpp).
// Source (lm-eval, checked 2026-11-26): tasks/piqa/piqa.yaml, tasks/arc/arc_easy.yaml (+
// arc_challenge.yaml include), tasks/openbookqa/openbookqa.yaml, tasks/super_glue/boolq/
// default.yaml. Every continuation is " " + choice (target_delimiter); acc_norm divides by len(choice).
#include <algorithm>

#include "core/error.h"
#include "eval/tasks.h"
#include "eval/tasks_io.h"

namespace twla {

namespace {

// One context, one request per choice, continuation " " + choice.
TaskDoc choice_doc(const std::string& context, const std::vector<std::string>& choices, int gold) {
  TaskDoc d;
  for (const auto& c : choices) d.requests.push_back({context, " " + c});
  d.choices = choices;
  d.gold = gold;
  return d;
}

// ARC mixes letter and numeric labels ("1".."4" in a few items); lm-eval's HF ai2_arc keeps them
// as they are and takes labels.index(answerKey), which the mapping here leaves unchanged.
std::string letter_label(std::string l) {
  while (!l.empty() && l.front() == ' ') l.erase(l.begin());   // OpenBookQA: answerKey.lstrip()
  if (l.size() == 1 && l[0] >= '1' && l[0] <= '9') l[0] = char('A' + (l[0] - '1'));
  return l;
}

int gold_of(const std::vector<std::string>& labels, const std::string& key,
            const std::string& where) {
  const std::string k = letter_label(key);
  for (size_t i = 0; i < labels.size(); ++i)
    if (letter_label(labels[i]) == k) return int(i);
  TWLA_FAIL(where, ": answerKey '", key, "' is none of the choice labels; fix the file");
}

}  // namespace

TaskDoc piqa_doc(const std::string& goal, const std::string& sol1, const std::string& sol2,
                 int label) {
  return choice_doc("Question: " + goal + "\nAnswer:", {sol1, sol2}, label);
}

TaskDoc arc_doc(const std::string& question, const std::vector<std::string>& texts,
                const std::vector<std::string>& labels, const std::string& answer_key,
                const std::string& where) {
  return choice_doc("Question: " + question + "\nAnswer:", texts,
                    gold_of(labels, answer_key, where));
}

TaskDoc openbookqa_doc(const std::string& question_stem, const std::vector<std::string>& texts,
                       const std::vector<std::string>& labels, const std::string& answer_key,
                       const std::string& where) {
  return choice_doc(question_stem, texts, gold_of(labels, answer_key, where));
}

// lm-eval reads SuperGLUE BoolQ (passage without the title). The "{title} -- {passage}"
// is the old lm-eval 0.3 / GPT-3 variant; the current YAML has no title, so neither do we.
TaskDoc boolq_doc(const std::string& passage, const std::string& question, bool answer) {
  return choice_doc(passage + "\nQuestion: " + question + "?\nAnswer:", {"no", "yes"},
                    answer ? 1 : 0);
}

namespace task_io {

std::vector<TaskDoc> load_piqa(const std::string& path) {
  // The labels live beside the questions: valid.jsonl -> valid-labels.lst.
  std::string labels_path = path;
  const size_t dot = labels_path.rfind(".jsonl");
  TWLA_CHECK(dot != std::string::npos && dot + 6 == labels_path.size(), "piqa: ", path,
             " is not a .jsonl file; pass PIQA's valid.jsonl (labels in valid-labels.lst)");
  labels_path = labels_path.substr(0, dot) + "-labels.lst";
  const auto labels = read_lines(labels_path);
  std::vector<TaskDoc> docs;
  const std::string fmt = "PIQA valid.jsonl lines {goal, sol1, sol2}";
  for_each_jsonl(path, fmt, [&](const nlohmann::json& j, const Where& w) {
    const size_t k = docs.size();
    if (k >= labels.size())
      fail(w, "no label: " + labels_path + " has only " + std::to_string(labels.size()) +
                  " lines");
    const std::string& l = labels[k];
    if (l != "0" && l != "1")
      fail(Where{labels_path, int64_t(k) + 1, "one label per line, 0 or 1"},
           "label '" + l + "' is not 0 or 1");
    TaskDoc d = piqa_doc(str(j, "goal", w), str(j, "sol1", w), str(j, "sol2", w), l == "1");
    d.id = "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  });
  TWLA_CHECK(docs.size() == labels.size(), "piqa: ", path, " has ", docs.size(),
             " questions but ", labels_path, " has ", labels.size(),
             " labels; use the matching pair of files");
  return docs;
}

namespace {
std::vector<TaskDoc> load_ai2(const std::string& path, bool obqa) {
  std::vector<TaskDoc> docs;
  const std::string fmt = std::string(obqa ? "OpenBookQA" : "ARC") +
                          " jsonl lines {id, question: {stem, choices: [{text, label}]}, answerKey}";
  for_each_jsonl(path, fmt, [&](const nlohmann::json& j, const Where& w) {
    std::vector<std::string> texts, labels;
    choices(j, "question.choices", w, &texts, &labels);
    const std::string stem = str(j, "question.stem", w), key = str(j, "answerKey", w);
    TaskDoc d = obqa ? openbookqa_doc(stem, texts, labels, key, w.str())
                     : arc_doc(stem, texts, labels, key, w.str());
    d.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>()
                                                   : "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  });
  return docs;
}
}  // namespace

std::vector<TaskDoc> load_arc(const std::string& path) { return load_ai2(path, false); }
std::vector<TaskDoc> load_openbookqa(const std::string& path) { return load_ai2(path, true); }

std::vector<TaskDoc> load_boolq(const std::string& path) {
  std::vector<TaskDoc> docs;
  const std::string fmt =
      "BoolQ jsonl lines {question, passage, answer: bool} (Google) or {.., label: 0|1} (SuperGLUE)";
  for_each_jsonl(path, fmt, [&](const nlohmann::json& j, const Where& w) {
    bool answer = false;
    if (j.contains("answer")) {
      if (!j["answer"].is_boolean()) fail(w, "field 'answer' is not true/false");
      answer = j["answer"].get<bool>();
    } else {
      const auto& l = field(j, "label", w);
      if (!l.is_number_integer() || (l.get<int>() != 0 && l.get<int>() != 1))
        fail(w, "field 'label' is not 0 or 1");
      answer = l.get<int>() == 1;
    }
    TaskDoc d = boolq_doc(str(j, "passage", w), str(j, "question", w), answer);
    d.id = "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  });
  return docs;
}

}  // namespace task_io
}  // namespace twla
