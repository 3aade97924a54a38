// eval/tasks_cloze.cpp: fill-in tasks: WinoGrande (partial evaluation) and LAMBADA.
//   winogrande  two contexts sentence[:i] + option_k (i = first "_"), one shared continuation
//               " " + sentence[i+1:].strip(); pick the option whose context makes the
//               continuation likelier; acc only (lm-eval: multiple_inputs, gold = answer - 1).
//   lambada_*   context = text up to its last " ", continuation = " " + last word;
//               acc = greedy match of every continuation token, perplexity = exp(-mean ll).
// lambada_openai reads the OpenAI jsonl {text}; lambada_standard the original plain text
// (one passage per line; HF `lambada` test is these lines), which lm-eval reads via HF.
// Not here: QA tasks (tasks_qa.cpp), HellaSwag (tasks_hellaswag.cpp).
// Source: lm-eval tasks/winogrande/{default.yaml,preprocess_winogrande.py},
// tasks/lambada/{lambada_openai,lambada_standard}.yaml (checked 2026-11-26).
#include "core/error.h"
#include "eval/tasks.h"
#include "eval/tasks_io.h"

namespace twla {


TaskDoc winogrande_doc(const std::string& sentence, const std::string& option1,
                       const std::string& option2, const std::string& answer,
                       const std::string& where) {
  const size_t i = sentence.find('_');
  TWLA_CHECK(i != std::string::npos, where, ": field 'sentence' has no blank '_'; expected a ",
             "WinoGrande sentence such as \"... so _ always got the easier cases.\"");
  TWLA_CHECK(answer == "1" || answer == "2", where, ": field 'answer' = '", answer,
             "' is not \"1\" or \"2\"");
  TaskDoc d;
  const std::string target = " " + task_io::py_strip(sentence.substr(i + 1));
  for (const auto& opt : {option1, option2}) {
    d.choices.push_back(sentence.substr(0, i) + opt);   // lm-eval doc_to_choice
    d.requests.push_back({d.choices.back(), target});
  }
  d.gold = answer == "1" ? 0 : 1;
  return d;
}

TaskDoc lambada_doc(const std::string& text, const std::string& where) {
  const size_t p = text.rfind(' ');
  TWLA_CHECK(p != std::string::npos, where, ": field 'text' has no space, so no last word to ",
             "predict; expected a LAMBADA passage");
  TaskDoc d;
  d.requests.push_back({text.substr(0, p), " " + text.substr(p + 1)});
  d.choices.push_back(text.substr(p + 1));
  d.gold = 0;
  return d;
}

namespace task_io {

std::vector<TaskDoc> load_winogrande(const std::string& path) {
  std::vector<TaskDoc> docs;
  const std::string fmt = "WinoGrande jsonl lines {qID, sentence with '_', option1, option2, answer}";
  for_each_jsonl(path, fmt, [&](const nlohmann::json& j, const Where& w) {
    const auto& a = field(j, "answer", w);
    std::string answer = a.is_string() ? a.get<std::string>() : a.dump();
    TaskDoc d;
    try {
      d = winogrande_doc(str(j, "sentence", w), str(j, "option1", w), str(j, "option2", w), answer,
                         w.str());
    } catch (const Error& e) {
      TWLA_FAIL(e.what(), " (", fmt, ")");
    }
    d.id = j.contains("qID") && j["qID"].is_string() ? j["qID"].get<std::string>()
                                                     : "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  });
  return docs;
}

std::vector<TaskDoc> load_lambada_jsonl(const std::string& path) {
  std::vector<TaskDoc> docs;
  for_each_jsonl(path, "LAMBADA OpenAI jsonl lines {text}", [&](const nlohmann::json& j, const Where& w) {
    TaskDoc d = lambada_doc(str(j, "text", w), w.str());
    d.id = "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  });
  return docs;
}

std::vector<TaskDoc> load_lambada_plain(const std::string& path) {
  const auto lines = read_lines(path);
  std::vector<TaskDoc> docs;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Where w{path, int64_t(i) + 1, "LAMBADA plain text, one passage per line"};
    if (lines[i].empty()) fail(w, "field 'text' is an empty line");
    TaskDoc d = lambada_doc(lines[i], w.str());
    d.id = "line " + std::to_string(w.line);
    d.line = w.line;
    docs.push_back(std::move(d));
  }
  return docs;
}

}  // namespace task_io
}  // namespace twla
