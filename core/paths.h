// core/paths.h: where shared data and models live. `--data-dir` / TWLA_DATA, default ../shared
// (relative to the working directory, then to the executable's checkout). Descriptor paths may
// start with ${data}/ to name a file there.
#pragma once
#include <string>

namespace twla {

// Sets the data dir for this process (from --data-dir); "" restores the default lookup.
void set_data_dir(const std::string& dir);
// The data dir; throws Error with the fix if none of the candidates exists.
std::string data_dir();
// Expands ${data} and ~ in a path.
std::string expand_path(const std::string& p);
// data_dir()/rel, with an Error naming the file and the fix if it is missing.
std::string data_file(const std::string& rel, const std::string& what);
// The folder of the running executable ("" if /proc/self/exe cannot be read).
std::string executable_dir();

}  // namespace twla
