// tests/eval/test_tasks.cpp: document -> request conversions of every zero-shot task, written
// out by hand from lm-eval's YAMLs (tasks.h names them), and the real task files of shared/data
// (document counts of SOURCES.md, first documents). Errors: test_tasks_errors.cpp.
#include "core/paths.h"
#include "eval/tasks.h"
#include "eval/zeroshot.h"
#include "tests/catch.h"

using namespace twla;

namespace {
std::vector<TaskDoc> load(const std::string& task) {
  auto t = zeroshot_tasks().make(task);
  return t->load(data_dir() + "/" + t->files().back());
}
}  // namespace

TEST_CASE("tasks: the registry lists the nine tasks and suggests near names") {
  CHECK(zeroshot_task_names() ==
        std::vector<std::string>{"piqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande",
                                 "lambada_openai", "lambada_standard", "boolq", "openbookqa"});
  CHECK(is_zeroshot_task("piqa"));
  CHECK_FALSE(is_zeroshot_task("wikitext2"));
  try {
    zeroshot_tasks().make("pqia");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("did you mean 'piqa'") != std::string::npos);
  }
}

TEST_CASE("tasks: piqa, arc, openbookqa, boolq requests") {
  TaskDoc p = piqa_doc("How do I open a jar?", "Twist the lid.", "Bite the lid. ", 1);
  REQUIRE(p.requests.size() == 2);
  CHECK(p.requests[0].context == "Question: How do I open a jar?\nAnswer:");
  CHECK(p.requests[0].continuation == " Twist the lid.");
  CHECK(p.requests[1].continuation == " Bite the lid. ");   // trailing space kept, as lm-eval
  CHECK(p.choices == std::vector<std::string>{"Twist the lid.", "Bite the lid. "});
  CHECK(p.gold == 1);

  TaskDoc a = arc_doc("Which is a gas?", {"ice", "steam", "rock", "wood"}, {"1", "2", "3", "4"},
                      "2", "here");
  CHECK(a.requests[3].context == "Question: Which is a gas?\nAnswer:");
  CHECK(a.requests[3].continuation == " wood");
  CHECK(a.gold == 1);
  CHECK(arc_doc("Q?", {"a", "b", "c"}, {"A", "B", "C"}, "C", "here").gold == 2);

  TaskDoc o = openbookqa_doc("The sun is a", {"star", "planet"}, {"A", "B"}, "A", "here");
  CHECK(o.requests[0].context == "The sun is a");
  CHECK(o.requests[1].continuation == " planet");
  CHECK(o.gold == 0);

  TaskDoc b = boolq_doc("Ethanol fuel is made from corn.", "is ethanol made from corn", true);
  CHECK(b.requests[0].context ==
        "Ethanol fuel is made from corn.\nQuestion: is ethanol made from corn?\nAnswer:");
  CHECK(b.requests[0].continuation == " no");
  CHECK(b.requests[1].continuation == " yes");
  CHECK(b.choices == std::vector<std::string>{"no", "yes"});
  CHECK(b.gold == 1);
}

TEST_CASE("tasks: hellaswag preprocessing and the query of lm-eval") {
  // Expected strings from lm-eval's utils.preprocess run on these inputs.
  CHECK(hellaswag_preprocess("  [header] How to X [title] Do Y. [step] Z  ") == " How to X. Do Y. Z");
  CHECK(hellaswag_preprocess("a   b [x\ny] c [unclosed") == "a  b [x\ny] c [unclosed");   // one pass
  CHECK(python_capitalize("the LADY Smith") == "The lady smith");
  CHECK(python_capitalize("") == "");

  TaskDoc h = hellaswag_doc("Roof shingle removal", "A man is sitting on a roof.", "he",
                            {"is using wrap.", " [step] rips tiles off.", "a", "b"}, 3);
  CHECK(h.requests[0].context == "Roof shingle removal: A man is sitting on a roof. He");
  // strip comes before the bracket removal, so the space after "[step]" stays (as in lm-eval)
  CHECK(h.choices[1] == " rips tiles off.");
  CHECK(h.requests[1].continuation == "  rips tiles off.");
  CHECK(h.gold == 3);
  // WikiHow items have ctx_b = "": the trailing space is stripped by preprocess.
  TaskDoc w = hellaswag_doc("Education and Communications",
                            "[header] How to make ice [title] Freeze water. [title] Wait.", "",
                            {"a", "b", "c", "d"}, 0);
  CHECK(w.requests[0].context == "Education and Communications: How to make ice. Freeze water.. Wait.");
}

TEST_CASE("tasks: hellaswag ctx_b heuristic on merged text matches lm-eval on real rows") {
  // (activity_label, ctx_a, ctx_b) of hellaswag_val.jsonl rows (ind 24, 92, 106, 180, 182) and a
  // WikiHow-style row with ctx_b = "".
  struct RowT { const char *label, *a, *b; };
  const RowT rows[] = {
      {"Roof shingle removal", "A man is sitting on a roof.", "he"},
      {"Clean and jerk", "A lady walks to a barbell. She bends down and grabs the pole.", "the lady"},
      {"Canoeing", "Two women in a child are shown in a canoe while a man pulls the canoe while "
                   "standing in the water, with other individuals visible in the background.",
       "the child and a different man"},
      {"Sharpening knives", "A man is holding a pocket knife while sitting on some rocks in the "
                            "wilderness.", "then he"},
      {"Sharpening knives", "Then he takes a small stone from the flowing river and smashes it on "
                            "another stone. He starts to crush the small stone to smaller pieces.", "he"},
      {"Home and Garden", "[header] How to grow tomatoes [title] Obtain seeds. [step] Plant them.", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.a);
    const std::string merged = hellaswag_preprocess(std::string(r.label) + ": " + r.a + " " + r.b);
    const std::string want =
        hellaswag_preprocess(std::string(r.label) + ": " + r.a + " " + python_capitalize(r.b));
    CHECK(hellaswag_query_from_merged(merged) == want);
  }
  CHECK(hellaswag_query_from_merged("Label: the man runs") == "Label: The man runs");   // ctx_a ""
}

TEST_CASE("tasks: winogrande partial evaluation and lambada last word") {
  TaskDoc w = winogrande_doc("Sarah was a much better surgeon than Maria so _ always got the easier cases.",
                             "Sarah", "Maria", "2", "here");
  REQUIRE(w.requests.size() == 2);
  CHECK(w.requests[0].context == "Sarah was a much better surgeon than Maria so Sarah");
  CHECK(w.requests[1].context == "Sarah was a much better surgeon than Maria so Maria");
  CHECK(w.requests[0].continuation == " always got the easier cases.");
  CHECK(w.requests[1].continuation == w.requests[0].continuation);   // one shared continuation
  CHECK(w.gold == 1);
  CHECK(winogrande_doc("_ is tall.", "Tom", "Ann", "1", "here").requests[1].context == "Ann");

  TaskDoc l = lambada_doc("he said , `` go home '' and left  quietly", "here");
  REQUIRE(l.requests.size() == 1);
  CHECK(l.requests[0].context == "he said , `` go home '' and left ");   // split(' ') keeps ""
  CHECK(l.requests[0].continuation == " quietly");
}

TEST_CASE("tasks: the real files load with the documented counts") {
  const std::pair<const char*, size_t> counts[] = {
      {"piqa", 1838},     {"arc_easy", 2376},        {"arc_challenge", 1172},
      {"hellaswag", 10042}, {"winogrande", 1267},    {"lambada_openai", 5153},
      {"lambada_standard", 5153}, {"boolq", 3270},   {"openbookqa", 500}};
  for (const auto& [task, n] : counts) {
    CAPTURE(task);
    auto docs = load(task);
    CHECK(docs.size() == n);
    for (const auto& d : docs) {
      REQUIRE(d.gold >= 0);
      REQUIRE(size_t(d.gold) < d.requests.size());
      REQUIRE(d.choices.size() == d.requests.size());
    }
  }
}

TEST_CASE("tasks: first documents of the real files") {
  auto h = load("hellaswag");
  CHECK(h[0].requests[0].context == "Roof shingle removal: A man is sitting on a roof. He");
  CHECK(h[0].requests[0].continuation == " is using wrap to wrap a pair of skis.");
  CHECK(h[0].gold == 3);
  CHECK(h[1].requests[0].context ==
        "Clean and jerk: A lady walks to a barbell. She bends down and grabs the pole. The lady");

  auto p = load("piqa");
  CHECK(p[0].requests[0].context == "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
  CHECK(p[0].gold == 0);
  CHECK(p[1].gold == 1);

  auto a = load("arc_challenge");
  for (const auto& d : a)
    if (d.id == "NYSEDREGENTS_2008_8_34") CHECK(d.gold == 1);   // numeric labels, answerKey "2"

  auto w = load("winogrande");
  CHECK(w[0].requests[1].context == "Sarah was a much better surgeon than Maria so Maria");
  CHECK(w[0].gold == 1);

  auto l = load("lambada_openai");
  CHECK(l[0].requests[0].continuation == " signs");
  auto s = load("lambada_standard");
  CHECK(s[0].requests[0].continuation == " signs");
  CHECK(s[0].requests[0].context.substr(0, 22) == "in my palm is a clear ");

  auto b = load("boolq");
  CHECK(b[0].requests[0].context.find("\nQuestion: does ethanol take more energy make that produces?\nAnswer:") !=
        std::string::npos);
  CHECK(b[0].gold == 0);

  auto o = load("openbookqa");
  CHECK(o[0].requests[1].continuation == " quit eating lunch out");
  CHECK(o[0].gold == 1);
}
