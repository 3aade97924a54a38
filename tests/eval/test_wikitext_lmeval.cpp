// tests/eval/test_wikitext_lmeval.cpp: lm-eval's wikitext task. Documents, detokenizer and
// word/byte counts agree with the Python code they come from (figures below were produced by
// running the document-level builder's _generate_examples and lm-eval's wikitext_detokenizer and
// process_results on ../shared/data/wikitext2/wiki.test.raw with python3); rolling windows on a
// hand-worked example; the score equals a plain per-window forward.
#include <cmath>

#include "core/fs.h"
#include "core/paths.h"
#include "eval/wikitext_lmeval.h"
#include "tests/catch.h"

using namespace twla;

TEST_CASE("wikitext lm-eval: pages, detokenized text and counts match the Python reference") {
  const std::string raw = read_file(data_dir() + "/data/wikitext2/wiki.test.raw");
  const auto pages = wikitext_pages(raw);
  REQUIRE(pages.size() == 62);
  int64_t words = 0, bytes = 0;
  std::string joined;
  for (size_t i = 0; i < pages.size(); ++i) {
    words += python_split_ws_count(pages[i]);
    bytes += int64_t(pages[i].size());
    joined += (i ? std::string(1, '\0') : std::string()) + wikitext_detokenize(pages[i]);
  }
  CHECK(words == 241335);
  CHECK(bytes == 1290527);
  CHECK(sha256_bytes(joined.data(), joined.size()) == "b0ae50e166add20959a5406d9b3c99fe1f23819ec0a10149047149434fb85d81");
  CHECK(wikitext_detokenize(pages[0]).rfind(" = Robert Boulter =\n\nRobert Boulter is an English "
                                            "film, television and theatre actor. He had a guest-"
                                            "starring role", 0) == 0);
}

TEST_CASE("wikitext lm-eval: detokenizer and word count, case by case") {
  CHECK(wikitext_detokenize("a ( b c ) d [ e ] { f } \" g \" ' h '") == "a (b c) d [e] {f} \"g\" 'h'");
  CHECK(wikitext_detokenize("1 @,@ 000 @.@ 5 km , 3 @-@ 4 ; x : y . z ! w ?") ==
        "1,000.5 km, 3-4; x: y. z! w ?");
  CHECK(wikitext_detokenize("( a ( b ) c )") == "(a ( b) c )");   // first ')' closes, as the regex
  CHECK(wikitext_detokenize("no close ( here") == "no close ( here");
  CHECK(wikitext_detokenize("the dogs ' bone , the cat 's") == "the dogs'bone, the cat's");
  CHECK(wikitext_detokenize(" = = Career = = \n \n N of them") == " == Career ==\n\nN of them");
  CHECK(wikitext_detokenize("x N y") == "x 1 y");
  CHECK(python_split_ws_count("") == 1);
  CHECK(python_split_ws_count(" a  b\n") == 4);   // ['', 'a', 'b', '']
  CHECK(python_split_ws_count("a\xC2\xA0" "b") == 2);   // NBSP is whitespace to Python
  CHECK(python_split_ws_count("a\xC3\xA9" "b") == 1);
}

TEST_CASE("wikitext lm-eval: rolling windows as get_rolling_token_windows + make_disjoint_window") {
  std::vector<int32_t> t{10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  auto r = rolling_requests(t, 1, 4);
  REQUIRE(r.size() == 3);
  CHECK(r[0].context == std::vector<int32_t>{1});
  CHECK(r[0].continuation == std::vector<int32_t>{10, 11, 12, 13});
  CHECK(r[1].context == std::vector<int32_t>{13});
  CHECK(r[1].continuation == std::vector<int32_t>{14, 15, 16, 17});
  CHECK(r[2].context == std::vector<int32_t>{15, 16, 17});   // last window: 4 inputs, 2 scored
  CHECK(r[2].continuation == std::vector<int32_t>{18, 19});
  CHECK(rolling_requests({5, 6}, 1, 4).size() == 1);
  CHECK(rolling_requests({}, 1, 4).empty());
}

TEST_CASE("wikitext lm-eval: the score on stories260K equals plain per-window forwards") {
  Model m(data_dir() + "/models/stories260K");
  auto tok = load_tokenizer(data_dir() + "/models/stories260K");
  const std::string raw = read_file(data_dir() + "/data/wikitext2/wiki.test.raw");
  LlOptions o;
  o.max_length = 64;
  o.batch = 8;
  auto res = wikitext_lmeval(m, LinearOps{}, *tok, raw, o, /*limit=*/2);
  REQUIRE(res.docs == 2);
  const auto pages = wikitext_pages(raw);
  double ll = 0;
  int64_t words = 0, bytes = 0, windows = 0;
  for (int i = 0; i < 2; ++i) {
    for (const auto& r : rolling_requests(tok->encode(wikitext_detokenize(pages[i])), tok->bos_id(), 64)) {
      ll += loglikelihood_reference(m, LinearOps{}, r, 64).logprob;
      ++windows;
    }
    words += python_split_ws_count(pages[i]);
    bytes += int64_t(pages[i].size());
  }
  CHECK(res.windows == windows);
  CHECK(std::abs(res.loglikelihood - ll) < 1e-4 * std::abs(ll));
  CHECK(std::abs(res.word_perplexity - std::exp(-ll / words)) < 1e-4 * res.word_perplexity);
  CHECK(std::abs(res.bits_per_byte - (-ll / bytes / std::log(2.0))) < 1e-6);
  CHECK(res.byte_perplexity > 1);
}
