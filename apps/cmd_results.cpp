// apps/cmd_results.cpp: `twla describe`, `twla show`, `twla report`.
#include <iostream>

#include "allocators/allocator.h"
#include "apps/commands.h"
#include "core/fs.h"
#include "experiments/descriptor.h"
#include "quantizers/quantizer.h"
#include "results/paper_plots.h"
#include "results/paper_table.h"
#include "results/aggregate.h"
#include "results/report.h"
#include "results/run_file.h"
#include "rotations/rotation.h"

namespace twla::cli {

namespace {
template <class T>
bool describe_registry(const Registry<T>& r, const Args& a) {
  if (a.empty() || a[0] != r.kind()) return false;
  if (a.size() == 1) {
    std::cout << r.kind() << " plugins:\n";
    for (const auto& e : r.entries())
      std::cout << "  " << e.name << std::string(20 - std::min<size_t>(19, e.name.size()), ' ')
                << e.help << "\n";
    return true;
  }
  const auto& e = r.at(a[1]);
  std::cout << r.kind() << " " << e.name << ": " << e.help << "\n";
  auto f = e.fields(r.kind());
  std::cout << (f.empty() ? "  (no fields)\n" : format_field_help(f));
  return true;
}
}  // namespace

int cmd_describe(const Args& a) {
  if (!a.empty() && (a[0] == "--help" || a[0] == "-h")) {
    std::cout << "usage: twla describe [descriptor | quantizer|rotation|allocator [NAME]]\n"
                 "  no argument: every descriptor field with its default, then the plugin names\n";
    return 0;
  }
  if (describe_registry(quantizers(), a) || describe_registry(rotations(), a) ||
      describe_registry(allocators(), a))
    return 0;
  TWLA_CHECK(a.empty() || a[0] == "descriptor", "twla describe: unknown kind '", a[0], "'",
             did_you_mean(a[0], {"descriptor", "quantizer", "rotation", "allocator"}));
  std::cout << "descriptor fields (YAML; `include:` other files, `sweep:` to expand, key.sub=value "
               "on the command line):\n"
            << format_field_help(field_help<Descriptor>());
  std::cout << "\nplugins: twla describe quantizer | rotation | allocator [name]\n";
  for (const auto* kind : {"quantizer", "rotation", "allocator"}) {
    std::cout << "  " << kind << ":";
    std::vector<std::string> n = std::string(kind) == "quantizer" ? quantizers().names()
                                 : std::string(kind) == "rotation" ? rotations().names()
                                                                   : allocators().names();
    std::cout << " " << join(n, ", ") << "\n";
  }
  return 0;
}

int cmd_show(const Args& a) {
  if (a.size() == 1 && (a[0] == "--help" || a[0] == "-h")) {
    std::cout << "usage: twla show RUN.h5 (or a run folder: its results.h5)\n";
    return 0;
  }
  TWLA_CHECK(a.size() == 1, "usage: twla show RUN.h5 (or a run folder)");
  std::string p = a[0];
  if (dir_exists(p)) p += "/results.h5";
  std::cout << format_run(read_run(p));
  return 0;
}

int cmd_report(const Args& a) {
  std::string dir;
  std::string fmt = "md", plots, mean_field;
  bool paper = false;
  TableOptions o;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--latex") fmt = "latex";
    else if (a[i] == "--csv") fmt = "csv";
    else if (a[i] == "--paper") paper = true;
    else if (a[i] == "--plots" && i + 1 < a.size()) plots = a[++i];
    else if (a[i] == "--metrics" && i + 1 < a.size()) o.metrics = split(a[++i], ',');
    else if (a[i] == "--mean-over" && i + 1 < a.size()) mean_field = a[++i];
    else if (a[i] == "--help" || a[i] == "-h") {
      std::cout << "usage: twla report DIR [--latex|--csv] [--metrics ppl/wikitext2,kl/c4] [--paper] "
                   "[--plots OUTDIR] [--mean-over FIELD]\n  --paper: the paper's main-table layout (Markdown or --latex)\n"
                   "  --mean-over: one row per group of runs differing only in FIELD (e.g. calibration.seed):"
                   " mean ± sample sd\n"
                   "  --plots: also write PNGs (PPL vs A bits, per-layer error, bits per block)\n";
      return 0;
    } else {
      TWLA_CHECK(dir.empty(), "twla report takes one folder; got '", dir, "' and '", a[i], "'");
      dir = a[i];
    }
  }
  TWLA_CHECK(!dir.empty(), "usage: twla report DIR [--latex|--csv]");
  TWLA_CHECK(dir_exists(dir), "twla report: '", dir, "' is not a folder");
  auto runs = read_runs(dir);
  TWLA_CHECK(!runs.empty(), "twla report: no results.h5 below '", dir, "'");
  if (!mean_field.empty()) runs = mean_over(runs, mean_field);
  if (paper) {
    TWLA_CHECK(fmt != "csv", "twla report --paper: Markdown or --latex; --csv has every column already");
    std::cout << (fmt == "latex" ? paper_latex(runs, o.digits) : paper_markdown(runs, o.digits));
  } else {
    std::cout << (fmt == "latex" ? report_latex(runs, o) : fmt == "csv" ? report_csv(runs, o)
                                                                        : report_markdown(runs, o));
  }
  if (!plots.empty())
    for (const auto& f : paper_plots(runs, plots)) std::cerr << "wrote " << f << "\n";
  return 0;
}

}  // namespace twla::cli
