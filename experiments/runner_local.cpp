// experiments/runner_local.cpp: see runner_local.h.
#include "experiments/runner_local.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"

namespace twla {

namespace {
std::string exit_file(const SweepPlan& p, int i) { return p.dir + "/exit/" + std::to_string(i); }

pid_t spawn(const SweepPlan& plan, const PlannedRun& r, const LocalOptions& o) {
  std::vector<std::string> args{o.twla, "run", r.descriptor};
  args.insert(args.end(), o.extra.begin(), o.extra.end());
  std::string log = plan.dir + "/logs/" + std::to_string(r.index) + ".log";
  pid_t pid = ::fork();
  TWLA_CHECK(pid >= 0, "twla sweep: cannot start a worker (fork: ", std::strerror(errno), ")");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "twla sweep: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}
}  // namespace

int run_local(const SweepPlan& plan, const std::vector<int>& indices, const LocalOptions& o) {
  TWLA_CHECK(o.workers >= 1, "--workers=", o.workers, " must be at least 1");
  make_dirs(plan.dir + "/exit");
  using Clock = std::chrono::steady_clock;
  std::map<pid_t, std::pair<int, Clock::time_point>> live;
  size_t next = 0, finished = 0;
  int failed = 0;
  while (next < indices.size() || !live.empty()) {
    while (next < indices.size() && int(live.size()) < o.workers) {
      const PlannedRun& r = plan.runs.at(indices[next++]);
      pid_t pid = spawn(plan, r, o);
      write_file_atomic(exit_file(plan, r.index), "running " + std::to_string(pid) + "\n");
      live[pid] = {r.index, Clock::now()};
    }
    int st = 0;
    pid_t pid = ::waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      TWLA_FAIL("twla sweep: waitpid failed: ", std::strerror(errno));
    }
    auto it = live.find(pid);
    if (it == live.end()) continue;
    auto [index, t0] = it->second;
    live.erase(it);
    std::string how = WIFEXITED(st) ? "exit " + std::to_string(WEXITSTATUS(st))
                                    : "signal " + std::to_string(WTERMSIG(st));
    write_file_atomic(exit_file(plan, index), how + "\n");
    bool ok = how == "exit 0" && run_done(plan.runs[index]);
    failed += !ok;
    ++finished;
    if (!o.quiet)
      std::cerr << "[" << finished << "/" << indices.size() << "] run " << index << " "
                << plan.runs[index].name << ": " << (ok ? "done" : "FAILED (" + how + ")") << ", "
                << fixed(std::chrono::duration<double>(Clock::now() - t0).count(), 1) << " s"
                << (ok ? "" : "; log: " + plan.dir + "/logs/" + std::to_string(index) + ".log")
                << "\n";
  }
  return failed;
}

std::map<int, std::string> local_states(const SweepPlan& plan) {
  std::map<int, std::string> out;
  for (const auto& r : plan.runs) {
    std::string f = exit_file(plan, r.index);
    if (run_done(r) || !file_exists(f)) continue;
    std::string s = trim(read_file(f));
    if (starts_with(s, "running ")) {
      pid_t pid = pid_t(std::atol(s.c_str() + 8));
      out[r.index] = pid > 0 && ::kill(pid, 0) == 0 ? "running" : "failed (interrupted)";
    } else {
      out[r.index] = "failed (" + s + ")";
    }
  }
  return out;
}

}  // namespace twla
