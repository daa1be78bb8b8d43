// Loads the port-type plugins of a directory at start: every *.so in it is dlopen()ed,
// its entry point (dataplane/plugin_abi.h) checked and its plugin registered. Anything
// wrong stops start-up with a message naming the file; a daemon never runs with some
// of its plugins silently missing.
#ifndef VHOSTD_DATAPLANE_PLUGIN_LOADER_H_
#define VHOSTD_DATAPLANE_PLUGIN_LOADER_H_

#include <string>

#include "absl/status/status.h"
#include "dataplane/plugin_abi.h"
#include "dataplane/plugin_registry.h"

namespace vhostd {

// Loads one plugin file into `registry`.
absl::Status LoadPluginFile(const std::string& file, const vhostd_plugin_config& config, PluginRegistry* registry);

// Loads every *.so in `dir` (in name order) into `registry`. A directory without any is
// an error too: a daemon that can serve no port type is misinstalled. Each file is
// tried in a child process first (see plugin_loader.cc), so a plugin that would abort
// the process while loading is refused instead.
absl::Status LoadPluginDir(const std::string& dir, const vhostd_plugin_config& config, PluginRegistry* registry);

// The default --plugin-dir: "plugins" next to the running binary (/proc/self/exe, so
// symlinks to the binary, e.g. Bazel's runfiles, lead to the real build output).
std::string DefaultPluginDir();

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PLUGIN_LOADER_H_
