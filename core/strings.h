// core/strings.h: small string helpers shared by config parsing, registries and reports.
#pragma once
#include <string>
#include <vector>

namespace twla {

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b);
// The candidate nearest to `key`, or "" when none is close enough to be a plausible typo.
std::string nearest(const std::string& key, const std::vector<std::string>& candidates);
// " did you mean 'x'?" or "" — appended to unknown-name errors.
std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& parts, const std::string& sep);
std::vector<std::string> split(const std::string& s, char sep);
std::string trim(const std::string& s);
bool starts_with(const std::string& s, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);
// "1.2 s", "3m05s", "1h02m" — for progress lines and timings.
std::string format_duration(double seconds);
// Fixed-point with `digits` decimals.
std::string fixed(double v, int digits);

}  // namespace twla
