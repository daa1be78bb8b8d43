// Small file helpers for tests that inspect what the daemon wrote.
#ifndef VHOSTD_SERVER_TESTING_FILES_H_
#define VHOSTD_SERVER_TESTING_FILES_H_

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vhostd {
namespace testing_files {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// True if anything (even a dangling symlink) is at `path`.
inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace testing_files
}  // namespace vhostd

#endif  // VHOSTD_SERVER_TESTING_FILES_H_
