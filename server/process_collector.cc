#include "server/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "server/metric_families.h"

namespace vhostd {
namespace {

using prometheus::MetricType;

struct ProcStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

// Fields of /proc/self/stat after the command name: see proc(5).
ProcStat ReadProcStat() {
  ProcStat out;
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  std::vector<std::string> f;
  while (fields >> field) f.push_back(field);
  if (f.size() < 22) return out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // f[0] is field 3 (state): utime=14, stime=15, starttime=22, vsize=23, rss=24.
  out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  out.start_time_seconds = BootTimeSeconds() + std::stod(f[19]) / ticks;
  out.virtual_bytes = std::stod(f[20]);
  out.resident_bytes = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return out;
}

double OpenFds() {
  double count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
    closedir(dir);
    count -= 1;  // the directory stream itself
  }
  return count;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  const ProcStat stat = ReadProcStat();
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  std::vector<prometheus::MetricFamily> out;
  const auto add = [&out](const char* name, const char* help, MetricType type, double value) {
    out.push_back(MakeFamily(name, help, type));
    AddSample(out.back(), {}, value);
  };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
      stat.cpu_seconds);
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge, stat.resident_bytes);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, stat.virtual_bytes);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
      stat.start_time_seconds);
  add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, OpenFds());
  add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
      static_cast<double>(limit.rlim_cur));
  return out;
}

}  // namespace vhostd
