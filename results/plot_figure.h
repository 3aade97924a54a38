// results/plot_figure.h: the plain-data figure every plot of plot.h builds, and render(), which
// pipes it to gnuplot and writes the PNG atomically. Internal to results/ (plot.cpp defines
// render; plot.cpp and plot_rotation.cpp build figures). Not here: what to plot (plot.h).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace twla::plot_detail {

struct Curve {
  std::string title;
  std::vector<std::pair<double, double>> points;   // (x, y), sorted by x
  std::string with;                                 // gnuplot style; empty = the figure's
};

struct Figure {
  std::string title, xlabel, ylabel;
  std::vector<Curve> curves;
  std::vector<std::string> xcategories;   // non-empty: x = index into these
  bool log_y = false;
  bool key = true;                        // false: no legend (many curves)
  std::string with = "linespoints pointtype 7";   // gnuplot style of the curves
  // Heat map instead of curves: heat[y][x], y labelled by ycategories; cblabel names the colour.
  std::vector<std::vector<double>> heat;
  std::vector<std::string> ycategories;
  std::string cblabel;
};

// Error (naming png) when gnuplot is not built in or not found, the folder is missing, or gnuplot
// wrote no image (with what gnuplot said).
void render(const Figure& f, const std::string& png);
// Error "nothing to plot: <what>" when no curve has a point.
void check_points(const Figure& f, const std::string& png, const std::string& what);

}  // namespace twla::plot_detail
