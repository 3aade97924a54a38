// apps/commands.h: the `twla` subcommands; each parses its own flags and calls into
// experiments/, eval/ and results/. No logic of its own beyond wiring.
#pragma once
#include <string>
#include <vector>

namespace twla::cli {

using Args = std::vector<std::string>;  // the arguments after the subcommand

int cmd_run(const Args& a);
int cmd_sweep(const Args& a);   // cmd_sweep.cpp
int cmd_eval(const Args& a);
int cmd_describe(const Args& a);
int cmd_show(const Args& a);
int cmd_report(const Args& a);
int cmd_bench(const Args& a);
int cmd_check_golden(const Args& a);
int cmd_plot(const Args& a);
int cmd_pack(const Args& a);    // cmd_pack.cpp
int cmd_allocate(const Args& a);  // cmd_allocate.cpp
int cmd_cache(const Args& a);     // cmd_cache.cpp

// Global flags every command accepts: --data-dir, --threads, --quiet. Removes them from `a`.
void apply_global_flags(Args& a);

}  // namespace twla::cli
