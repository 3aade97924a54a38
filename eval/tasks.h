// eval/tasks.h: the zero-shot tasks as lm-evaluation-harness (lm-eval) defines them. Each
// document of a task file becomes (context, continuation) requests plus what scoring needs: the
// gold index and the choice texts whose character length acc_norm divides by.
// Not here: tokenization and the forward (loglik.h), metrics and the entry point (zeroshot.h).
// Source: lm-eval lm_eval/tasks/{piqa,arc,hellaswag,winogrande,lambada,super_glue/boolq,
// openbookqa}; file formats: shared/data/SOURCES.md. One file per family:
//   tasks_qa.cpp         piqa, arc_easy, arc_challenge, openbookqa, boolq
//   tasks_hellaswag.cpp  hellaswag (llama.cpp 6-line text or the original hellaswag_val.jsonl)
//   tasks_cloze.cpp      winogrande (partial evaluation), lambada_openai, lambada_standard
// The target delimiter " " is always on the continuation, never on the context (lm-eval).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/registry.h"

namespace twla {

struct TaskRequest {
  std::string context, continuation;
};

struct TaskDoc {
  std::string id;                      // the file's own id where it has one, else "line N"
  int64_t line = 0;                    // 1-based line of the document in its file
  std::vector<TaskRequest> requests;   // one per choice; one for lambada
  std::vector<std::string> choices;    // lm-eval doc_to_choice: acc_norm divides by len()
  int gold = 0;                        // index into requests (0 for lambada)
};

enum class TaskOutput {
  kMultipleChoice,   // acc = argmax ll == gold (+ acc_norm where lm-eval lists it)
  kLastWord,         // lambada: acc = greedy match, perplexity = exp(-mean ll)
};

// One row of the task registry. Tasks take no parameters.
class ZeroShotTask {
 public:
  virtual ~ZeroShotTask() = default;
  virtual TaskOutput output() const = 0;
  virtual bool has_acc_norm() const = 0;   // lm-eval's metric_list has acc_norm
  // Candidate files relative to the data dir, preferred first (the first that exists is used).
  virtual std::vector<std::string> files() const = 0;
  // Documents of a task file, in file order. Malformed files: Error naming file, line, field.
  virtual std::vector<TaskDoc> load(const std::string& path) const = 0;
};

// piqa, arc_easy, arc_challenge, hellaswag, winogrande, lambada_openai, lambada_standard,
// boolq, openbookqa. make("pqia") -> unknown zero-shot task 'pqia'; did you mean 'piqa'?
const Registry<ZeroShotTask>& zeroshot_tasks();

// ---- document -> requests, one function per task (the loaders call these; tests too) ----
TaskDoc piqa_doc(const std::string& goal, const std::string& sol1, const std::string& sol2,
                 int label);
// ARC and OpenBookQA: choice texts and labels as in the file; gold = labels.index(answer_key)
// (numeric labels "1".."5" read as "A".."E" on both sides). Error (with `where`) if absent.
TaskDoc arc_doc(const std::string& question, const std::vector<std::string>& texts,
                const std::vector<std::string>& labels, const std::string& answer_key,
                const std::string& where);
TaskDoc openbookqa_doc(const std::string& question_stem, const std::vector<std::string>& texts,
                       const std::vector<std::string>& labels, const std::string& answer_key,
                       const std::string& where);
TaskDoc boolq_doc(const std::string& passage, const std::string& question, bool answer);
TaskDoc hellaswag_doc(const std::string& activity_label, const std::string& ctx_a,
                      const std::string& ctx_b, const std::vector<std::string>& endings,
                      int label);
// The llama.cpp text format has ctx = ctx_a + " " + ctx_b, already preprocessed, with ctx_b
// not capitalized. Returns the query lm-eval would build (see tasks_hellaswag.cpp).
std::string hellaswag_query_from_merged(const std::string& merged);
std::string hellaswag_preprocess(const std::string& text);      // lm-eval hellaswag/utils.py
std::string python_capitalize(const std::string& s);            // str.capitalize(), ASCII
TaskDoc winogrande_doc(const std::string& sentence, const std::string& option1,
                       const std::string& option2, const std::string& answer,
                       const std::string& where);
TaskDoc lambada_doc(const std::string& text, const std::string& where);

}  // namespace twla
