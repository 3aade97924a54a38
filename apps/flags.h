// apps/flags.h: how the subcommands parse their flags (Boost.Program_options), in one place:
// --help prints "usage: ..." and the option table and exits 0, before required options are
// checked; a bad or missing flag is one error line naming it, with the usage.
#pragma once
#include <boost/program_options.hpp>

#include "apps/commands.h"

namespace twla::cli {

boost::program_options::variables_map parse_flags(
    const Args& a, boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description& pos, const char* usage);

}  // namespace twla::cli
