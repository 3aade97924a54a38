// tests/eval/test_tasks_errors.cpp: malformed task files fail with an Error that names the file,
// the line and the field, for every file format the tasks read.
#include <unistd.h>

#include <fstream>

#include "core/error.h"
#include "eval/tasks.h"
#include "tests/catch.h"

using namespace twla;

namespace {

std::string temp_dir() {
  static std::string d = [] {
    char tmpl[] = "/tmp/twla_tasks_XXXXXX";
    const char* p = mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    return std::string(p);
  }();
  return d;
}

std::string write(const std::string& name, const std::string& text) {
  const std::string p = temp_dir() + "/" + name;
  std::ofstream(p) << text;
  return p;
}

// The load error of `task` on file `path`; each `needle` must occur in it.
void expect_error(const std::string& task, const std::string& path,
                  const std::vector<std::string>& needles) {
  auto t = zeroshot_tasks().make(task);
  try {
    t->load(path);
    FAIL("no error for " << path);
  } catch (const Error& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    for (const auto& n : needles) CHECK(msg.find(n) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("task errors: jsonl files name file, line and field") {
  const std::string piqa = write("valid.jsonl",
                                 "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n"
                                 "{\"goal\": \"g\", \"sol1\": \"a\"}\n");
  write("valid-labels.lst", "0\n1\n");
  expect_error("piqa", piqa, {"valid.jsonl:2", "'sol2'", "missing"});

  const std::string piqa_bad = write("bad.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n");
  write("bad-labels.lst", "2\n");
  expect_error("piqa", piqa_bad, {"bad-labels.lst:1", "label '2'"});

  expect_error("arc_easy", write("arc.jsonl", "{\"id\": \"x\", \"question\": {\"stem\": \"q\"}, \"answerKey\": \"A\"}\n"),
               {"arc.jsonl:1", "'question.choices'"});
  expect_error("arc_challenge",
               write("arc2.jsonl", "{\"question\": {\"stem\": \"q\", \"choices\": [{\"text\": \"a\", "
                                   "\"label\": \"A\"}]}, \"answerKey\": \"C\"}\n"),
               {"arc2.jsonl:1", "answerKey 'C'"});
  expect_error("openbookqa", write("obqa.jsonl", "\n{not json\n"), {"obqa.jsonl:2", "not valid JSON"});
  expect_error("boolq", write("boolq.jsonl", "{\"question\": \"q\", \"passage\": \"p\", \"answer\": \"yes\"}\n"),
               {"boolq.jsonl:1", "'answer'"});
  expect_error("winogrande",
               write("wino.jsonl", "{\"sentence\": \"no blank\", \"option1\": \"a\", \"option2\": \"b\", "
                                   "\"answer\": \"1\"}\n"),
               {"wino.jsonl:1", "'sentence'", "'_'"});
  expect_error("winogrande",
               write("wino2.jsonl", "{\"sentence\": \"a _ b\", \"option1\": \"a\", \"option2\": \"b\", "
                                    "\"answer\": \"3\"}\n"),
               {"wino2.jsonl:1", "'answer'"});
  expect_error("lambada_openai", write("lambada.jsonl", "{\"text\": 5}\n"),
               {"lambada.jsonl:1", "'text'", "not a string"});
  expect_error("hellaswag", write("hs.jsonl", "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"ctx_b\": "
                                              "\"c\", \"endings\": [\"x\"], \"label\": 0}\n"),
               {"hs.jsonl:1", "'endings'"});
}

TEST_CASE("task errors: text formats name file and line") {
  expect_error("hellaswag", write("hs.txt", "ctx\n7\na\nb\nc\nd\n"), {"hs.txt:2", "'label'"});
  expect_error("hellaswag", write("hs2.txt", "ctx\n1\na\nb\nc\nd\nctx\n1\n"), {"hs2.txt:8", "multiple of 6"});
  expect_error("lambada_standard", write("plain.txt", "a b c\n\nd e\n"), {"plain.txt:2", "empty line"});
  expect_error("lambada_standard", write("plain2.txt", "a b c\nnospace\n"), {"plain2.txt:2", "no space"});
  expect_error("piqa", temp_dir() + "/absent.jsonl", {"absent"});
}
