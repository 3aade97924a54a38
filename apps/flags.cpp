// apps/flags.cpp: see flags.h.
#include "apps/flags.h"

#include <cstdlib>
#include <iostream>

#include "core/error.h"

namespace po = boost::program_options;

namespace twla::cli {

po::variables_map parse_flags(const Args& a, po::options_description& desc,
                              const po::positional_options_description& pos, const char* usage) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(a).options(desc).positional(pos).run(), vm);
    if (vm.count("help")) {  // before notify(): --help alone must not fail on a required option
      std::cout << "usage: " << usage << "\n" << desc;
      std::exit(0);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    TWLA_FAIL(e.what(), "; usage: ", usage);
  }
  return vm;
}

}  // namespace twla::cli
