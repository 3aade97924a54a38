// results/plot.cpp: the plots of plot.h. Each plot first becomes a Figure (curves of points,
// plain data, checked with errors that name the missing label/metric/stat), then render() pipes
// it to gnuplot. Not here: metric lookup and ordering (report.cpp).
#include "results/plot.h"

#include <pthread.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "results/plot_figure.h"
#include "results/report.h"

#ifdef TWLA_WITH_GNUPLOT
#include <gnuplot-iostream.h>
#endif

namespace twla {

using plot_detail::Curve;
using plot_detail::Figure;

namespace {

std::string gnuplot_command() {
  const char* env = std::getenv("GNUPLOT_IOSTREAM_CMD");
  return env && *env ? env : "gnuplot";
}

bool parse_number(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

#ifdef TWLA_WITH_GNUPLOT
// gnuplot single-quoted string: a quote is written twice.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Blocks SIGPIPE in this thread while gnuplot is fed: a gnuplot that died early must become an
// Error ("no image"), not kill the process. A pending SIGPIPE is consumed before unblocking.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
#endif

}  // namespace

namespace plot_detail {

#ifdef TWLA_WITH_GNUPLOT
void render(const Figure& f, const std::string& png) {
  TWLA_CHECK(gnuplot_found(), "plot '", png, "': '", gnuplot_command(),
             "' is not on PATH; install gnuplot (apt install gnuplot-nox) or set "
             "GNUPLOT_IOSTREAM_CMD");
  std::filesystem::path dir = std::filesystem::path(png).parent_path();
  TWLA_CHECK(dir.empty() || dir_exists(dir.string()), "plot '", png, "': no directory '",
             dir.string(), "'; create it first");
  std::string tmp = temp_path_for(png);
  std::string log = tmp + ".log";   // gnuplot's stderr: shown only when no image came out
  auto cleanup = [&] {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    std::filesystem::remove(log, ec);
  };
  try {
    SigpipeGuard guard;
    Gnuplot gp(gnuplot_command() + " 2>" + shell_quote(log));
    // pngcairo draws better; plain png (libgd) is the fallback some builds only have.
    gp << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { "
          "set terminal pngcairo size 900,560 noenhanced } "
          "else { set terminal png size 900,560 noenhanced }\n";
    gp << "set output " << quote(tmp) << "\n";
    gp << "set title " << quote(f.title) << "\nset xlabel " << quote(f.xlabel)
       << "\nset ylabel " << quote(f.ylabel) << "\nset grid\nset key outside right top\n";
    if (f.log_y) gp << "set logscale y\n";
    if (!f.xcategories.empty()) {
      gp << "set xtics (";
      for (size_t i = 0; i < f.xcategories.size(); ++i)
        gp << (i ? ", " : "") << quote(f.xcategories[i]) << " " << i;
      gp << ")\nset xrange [-0.5:" << f.xcategories.size() - 0.5 << "]\n";
    }
    if (!f.heat.empty()) {
      gp << "unset grid\nset ytics (";
      for (size_t i = 0; i < f.ycategories.size(); ++i)
        gp << (i ? ", " : "") << quote(f.ycategories[i]) << " " << i;
      gp << ")\nset yrange [-0.5:" << f.heat.size() - 0.5 << "]\nset xrange [-0.5:"
         << f.heat[0].size() - 0.5 << "]\nset palette rgb 21,22,23\nset cblabel "
         << quote(f.cblabel) << "\nplot '-' using 1:2:3 with image notitle\n";
      std::vector<std::tuple<double, double, double>> cells;
      for (size_t y = 0; y < f.heat.size(); ++y)
        for (size_t x = 0; x < f.heat[y].size(); ++x) cells.emplace_back(double(x), double(y), f.heat[y][x]);
      gp.send1d(cells);
    } else {
      gp << "plot ";
      for (size_t i = 0; i < f.curves.size(); ++i)
        gp << (i ? ", " : "") << "'-' using 1:2 with "
           << (f.curves[i].with.empty() ? f.with : f.curves[i].with)
           << (f.key ? " title " + quote(f.curves[i].title) : std::string(" notitle"));
      gp << "\n";
      for (const Curve& c : f.curves) gp.send1d(c.points);
    }
    gp << "unset output\n";
  } catch (const std::ios_base::failure& e) {
    cleanup();
    TWLA_FAIL("plot '", png, "': cannot run '", gnuplot_command(), "': ", e.what());
  }   // Gnuplot's destructor waited for gnuplot to exit
  std::error_code ec;
  if (!std::filesystem::is_regular_file(tmp) || std::filesystem::file_size(tmp, ec) == 0) {
    std::string messages = file_exists(log) ? trim(read_file(log)) : "";
    cleanup();
    TWLA_FAIL("plot '", png, "': gnuplot wrote no image",
              messages.empty() ? "" : "; gnuplot said: ", messages);
  }
  std::filesystem::remove(log, ec);
  commit_temp(tmp, png);
}
#else
void render(const Figure&, const std::string& png) {
  TWLA_FAIL("plot '", png, "': plots need gnuplot-iostream, and this twla was built without it; "
            "install libgnuplot-iostream-dev and reconfigure with -DTWLA_WITH_GNUPLOT=ON, or plot "
            "from `twla report --csv`");
}
#endif

void check_points(const Figure& f, const std::string& png, const std::string& what) {
  bool any = false;
  for (const Curve& c : f.curves) any = any || !c.points.empty();
  TWLA_CHECK(any, "plot '", png, "': nothing to plot: ", what);
}

}  // namespace plot_detail

using plot_detail::check_points;
using plot_detail::render;

bool plots_built() {
#ifdef TWLA_WITH_GNUPLOT
  return true;
#else
  return false;
#endif
}

bool gnuplot_found() {
  std::string cmd = gnuplot_command();
  std::string exe = cmd.substr(0, cmd.find(' '));
  if (exe.find('/') != std::string::npos) return ::access(exe.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  for (const std::string& dir : split(path ? path : "", ':')) {
    std::string p = (dir.empty() ? "." : dir) + "/" + exe;
    if (::access(p.c_str(), X_OK) == 0) return true;
  }
  return false;
}

void plot_metric_vs(const std::vector<RunRecord>& runs, const std::string& x_label_key,
                    const std::string& metric, const std::string& group_label_key,
                    const std::string& png) {
  struct Point { std::string group, x; double y; };
  std::vector<Point> pts;
  std::set<std::string> label_keys, metric_keys{"avg7"};
  for (const RunRecord& r : runs) {
    for (const auto& kv : r.labels) label_keys.insert(kv.first);
    for (const auto& kv : r.metrics) metric_keys.insert(kv.first);
    auto x = r.labels.find(x_label_key);
    double y = 0;
    if (x == r.labels.end() || !metric_value(r, metric, &y)) continue;
    auto g = r.labels.find(group_label_key);
    std::string group = group_label_key.empty() ? metric : g == r.labels.end() ? "–" : g->second;
    pts.push_back({group, x->second, y});
  }
  std::vector<std::string> labels(label_keys.begin(), label_keys.end());
  std::vector<std::string> metrics(metric_keys.begin(), metric_keys.end());
  TWLA_CHECK(!pts.empty(), "plot '", png, "': no run has both label '", x_label_key,
             "' and metric '", metric, "';",
             label_keys.count(x_label_key) ? did_you_mean(metric, metrics)
                                           : did_you_mean(x_label_key, labels),
             " labels: ", join(labels, ", "), "; metrics: ", join(metrics, ", "));
  Figure f;
  f.title = metric + " vs " + x_label_key;
  f.xlabel = x_label_key;
  f.ylabel = metric;
  bool numeric = true;
  std::set<std::string> cats;
  for (const Point& p : pts) {
    double v = 0;
    numeric = numeric && parse_number(p.x, &v);
    cats.insert(p.x);
  }
  if (!numeric) f.xcategories.assign(cats.begin(), cats.end());
  std::map<std::string, Curve> curves;
  bool positive = true;
  for (const Point& p : pts) {
    double x = 0;
    if (numeric) parse_number(p.x, &x);
    else x = double(std::find(f.xcategories.begin(), f.xcategories.end(), p.x) -
                    f.xcategories.begin());
    curves[p.group].title = p.group;
    curves[p.group].points.emplace_back(x, p.y);
    positive = positive && p.y > 0;
  }
  for (auto& [g, c] : curves) {
    std::sort(c.points.begin(), c.points.end());
    f.curves.push_back(c);
  }
  f.log_y = positive && starts_with(metric, "ppl");   // ternary perplexities span decades
  render(f, png);
}

void plot_layer_stat(const RunRecord& r, const std::string& stat, const std::string& png) {
  static const std::vector<std::string> builtin{"weight_err", "output_err", "bits_per_weight",
                                                "seconds"};
  std::set<std::string> known(builtin.begin(), builtin.end());
  for (const auto& l : r.layers)
    for (const auto& kv : l.extra) known.insert(kv.first);
  std::vector<std::string> names(known.begin(), known.end());
  TWLA_CHECK(known.count(stat), "plot '", png, "': unknown layer stat '", stat, "';",
             did_you_mean(stat, names), " stats: ", join(names, ", "));
  Figure f;
  f.title = r.name + ": " + stat + " per layer";
  f.xlabel = "layer (quantization order)";
  f.ylabel = stat;
  Curve c{stat, {}, ""};
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerRecord& l = r.layers[i];
    double v = 0;
    if (stat == "weight_err") v = l.weight_err;
    else if (stat == "bits_per_weight") v = l.bits_per_weight;
    else if (stat == "seconds") v = l.seconds;
    else if (stat == "output_err") {
      if (l.output_err < 0) continue;   // not measured
      v = l.output_err;
    } else {
      auto it = l.extra.find(stat);
      if (it == l.extra.end()) continue;
      v = it->second;
    }
    c.points.emplace_back(double(i), v);
  }
  f.curves.push_back(c);
  check_points(f, png, "run '" + r.name + "' has no layer with a value for '" + stat + "'");
  render(f, png);
}

void plot_series(const RunRecord& r, const std::string& series, const std::string& png) {
  std::vector<std::string> names;
  for (const auto& kv : r.series) names.push_back(kv.first);
  auto it = r.series.find(series);
  TWLA_CHECK(it != r.series.end(), "plot '", png, "': run '", r.name, "' has no series '", series,
             "';", did_you_mean(series, names), " series: ", join(names, ", "));
  Figure f;
  f.title = r.name + ": " + series;
  f.xlabel = "index";
  f.ylabel = series;
  Curve c{series, {}, ""};
  for (size_t i = 0; i < it->second.size(); ++i) c.points.emplace_back(double(i), it->second[i]);
  f.curves.push_back(c);
  check_points(f, png, "series '" + series + "' is empty");
  render(f, png);
}

void plot_bits_per_block(const std::vector<RunRecord>& runs, const std::string& png) {
  Figure f;
  f.title = "activation bits per decoder block";
  f.xlabel = "block";
  f.ylabel = "bits";
  f.with = "linespoints pointtype 7 linewidth 2";
  std::vector<std::string> missing;
  for (const RunRecord& r : runs) {
    auto it = r.series.find("act_bits");
    if (it == r.series.end()) {
      missing.push_back(r.name);
      continue;
    }
    Curve c{r.name, {}, ""};
    for (size_t i = 0; i < it->second.size(); ++i) c.points.emplace_back(double(i), it->second[i]);
    f.curves.push_back(c);
  }
  TWLA_CHECK(missing.empty(), "plot '", png, "': run(s) ", join(missing, ", "),
             " have no series 'act_bits' (written by runs since issue 6); rerun them");
  check_points(f, png, "no run has blocks");
  render(f, png);
}

void plot_delta_heatmap(const RunRecord& r, const std::string& png) {
  const std::string prefix = "ila_amp/delta/b";
  Figure f;
  f.title = r.name + ": ILA-AMP NLL increase, one block changed (others at the baseline)";
  f.xlabel = "block";
  f.ylabel = "activation bits";
  f.cblabel = "delta NLL (nats/token)";
  std::vector<std::pair<int, const std::vector<double>*>> rows;
  for (const auto& [name, v] : r.series)
    if (starts_with(name, prefix)) rows.emplace_back(std::stoi(name.substr(prefix.size())), &v);
  TWLA_CHECK(!rows.empty(), "plot '", png, "': run '", r.name, "' has no ILA-AMP delta table ",
             "(series ila_amp/delta/b<bits>); plot a run with activations.allocator: ila-amp");
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [bits, v] : rows) {
    TWLA_CHECK(!v->empty() && v->size() == rows[0].second->size(), "plot '", png, "': run '", r.name,
               "': the delta rows have different lengths; the file is damaged");
    f.ycategories.push_back(std::to_string(bits));
    f.heat.push_back(*v);
  }
  render(f, png);
}

}  // namespace twla
