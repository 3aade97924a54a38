// tests/core/test_fields.cpp: config fields parse, reject unknown keys with a suggestion, dump.
#include "core/fields.h"
#include "tests/catch.h"

namespace {
struct Inner {
  int seqlen = 2048;
  template <class V> void visit(V& v) { v("seqlen", seqlen, "tokens per segment"); }
};
struct Outer {
  int bits = 4;
  double percdamp = 0.1;
  std::string name = "x";
  std::vector<int> cands{2, 4, 6, 8};
  Inner calib;
  template <class V> void visit(V& v) {
    v("bits", bits, "weight bits");
    v("percdamp", percdamp, "damping");
    v("name", name, "a name");
    v("candidates", cands, "bit widths");
    v("calibration", calib, "calibration");
  }
};
}  // namespace

TEST_CASE("fields: parse, defaults, nested") {
  Outer o;
  twla::parse_fields(o, YAML::Load("{bits: 2, calibration: {seqlen: 128}}"), "");
  CHECK(o.bits == 2);
  CHECK(o.calib.seqlen == 128);
  CHECK(o.percdamp == 0.1);
  auto y = twla::to_yaml(o);
  CHECK(y["calibration"]["seqlen"].as<int>() == 128);
  CHECK(y["percdamp"].as<double>() == 0.1);
}

TEST_CASE("fields: unknown key names the nearest field") {
  Outer o;
  try {
    twla::parse_fields(o, YAML::Load("{calibration: {seqln: 128}}"), "");
    FAIL("no error");
  } catch (const twla::Error& e) {
    std::string m = e.what();
    CHECK(m.find("calibration.seqln") != std::string::npos);
    CHECK(m.find("did you mean 'seqlen'") != std::string::npos);
  }
}

TEST_CASE("fields: wrong type names the field and the value") {
  Outer o;
  try {
    twla::parse_fields(o, YAML::Load("{bits: four}"), "quantizer");
    FAIL("no error");
  } catch (const twla::Error& e) {
    std::string m = e.what();
    CHECK(m.find("quantizer.bits") != std::string::npos);
    CHECK(m.find("an integer") != std::string::npos);
    CHECK(m.find("four") != std::string::npos);
  }
}

TEST_CASE("fields: help lists every field with its default") {
  auto h = twla::field_help<Outer>();
  REQUIRE(h.size() == 5);
  CHECK(h[4].path == "calibration.seqlen");
  CHECK(h[4].default_value == "2048");
}
