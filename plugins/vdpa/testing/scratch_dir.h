// A directory of its own for a test's fake /dev, /sys and /run trees: made under
// Bazel's TEST_TMPDIR (or /tmp) when the test starts, removed with everything in it
// when the test ends.
#ifndef VHOSTD_PLUGINS_VDPA_TESTING_SCRATCH_DIR_H_
#define VHOSTD_PLUGINS_VDPA_TESTING_SCRATCH_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace vhostd {

class ScratchDir {
 public:
  // `name` names the directory (name.XXXXXX), for finding a failed test's leftovers.
  explicit ScratchDir(const std::string& name) {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/" + name + ".XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // "" if it could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_TESTING_SCRATCH_DIR_H_
