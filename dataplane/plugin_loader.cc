#include "dataplane/plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

std::string DlError() {
  const char* error = dlerror();
  return error != nullptr ? error : "unknown dlopen error";
}

// The descriptor of an opened plugin, checked for what the daemon relies on before it
// calls anything else in the file.
absl::StatusOr<const vhostd_plugin_descriptor*> Descriptor(void* handle, const std::string& file) {
  dlerror();
  void* symbol = dlsym(handle, VHOSTD_PLUGIN_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", file, ": no entry point ", VHOSTD_PLUGIN_ENTRY_SYMBOL, " (not a vhostd plugin?)"));
  }
  const vhostd_plugin_descriptor* descriptor = reinterpret_cast<vhostd_plugin_entry_fn>(symbol)();
  if (descriptor == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", file, ": ", VHOSTD_PLUGIN_ENTRY_SYMBOL,
                                                      " returned no descriptor"));
  }
  if (descriptor->abi_version != VHOSTD_PLUGIN_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", file, " was built for plugin ABI version ",
                                                      descriptor->abi_version, ", this vhostd has ",
                                                      VHOSTD_PLUGIN_ABI_VERSION, " (rebuild the plugin)"));
  }
  if (descriptor->port_type == nullptr || descriptor->create == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", file, ": descriptor lacks a port type or factory"));
  }
  return descriptor;
}

std::string OrEmpty(const char* s) { return s != nullptr ? s : ""; }

// Loading a plugin runs its static constructors, and some failures there end the
// process instead of returning: protobuf aborts when a second shared object registers
// a .proto file or message that is already registered (two copies of one plugin, or
// two plugins built from one .proto). So each plugin is first loaded in a child
// process, next to the ones already accepted; if that child dies, the daemon refuses
// the file with a message naming it, and survives.
absl::Status ProbeInChild(const std::vector<std::string>& accepted, const std::string& file) {
  const pid_t child = fork();
  if (child < 0) return absl::InternalError(absl::StrCat("plugin ", file, ": fork: ", strerror(errno)));
  if (child == 0) {
    for (const std::string& other : accepted) dlopen(other.c_str(), RTLD_NOW | RTLD_LOCAL);
    dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);  // errors are the parent's to report
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin ", file, " kills the process when loaded (", strsignal(WTERMSIG(status)),
        accepted.empty() ? "" : absl::StrCat(" next to the ", accepted.size(), " plugins before it"),
        "): a plugin defining protobuf messages or .proto files that another one defines too, e.g. a copy of a "
        "plugin? See the messages above"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadPluginFile(const std::string& file, const vhostd_plugin_config& config, PluginRegistry* registry) {
  // RTLD_NOW: an unresolvable symbol is an error now, not a crash at the first port.
  // RTLD_LOCAL: plugins don't see each other's symbols; what they share comes from the
  // daemon, which exports it (see docs/ARCHITECTURE.md). The handle is never closed:
  // lib/vhost threads and ports may run plugin code until the process exits.
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return absl::FailedPreconditionError(absl::StrCat("plugin ", file, ": ", DlError()));
  absl::StatusOr<const vhostd_plugin_descriptor*> descriptor = Descriptor(handle, file);
  if (!descriptor.ok()) return descriptor.status();
  std::unique_ptr<PortPlugin> plugin(static_cast<PortPlugin*>((*descriptor)->create(&config)));
  if (plugin == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", file, " (", (*descriptor)->port_type, ") could not be created"));
  }
  PluginInfo info{(*descriptor)->port_type, OrEmpty((*descriptor)->version), OrEmpty((*descriptor)->description),
                  file, (*descriptor)->abi_version};
  return registry->Register(std::move(info), std::move(plugin));
}

absl::Status LoadPluginDir(const std::string& dir, const vhostd_plugin_config& config, PluginRegistry* registry) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("--plugin-dir: cannot read ", dir, ": ", strerror(errno)));
  }
  std::vector<std::string> files;
  while (dirent* entry = readdir(d)) {
    if (absl::EndsWith(entry->d_name, ".so")) files.push_back(absl::StrCat(dir, "/", entry->d_name));
  }
  closedir(d);
  if (files.empty()) return absl::FailedPreconditionError(absl::StrCat("--plugin-dir: no *.so plugin in ", dir));
  std::sort(files.begin(), files.end());
  std::vector<std::string> accepted;
  for (const std::string& file : files) {
    if (absl::Status s = ProbeInChild(accepted, file); !s.ok()) return s;
    if (absl::Status s = LoadPluginFile(file, config, registry); !s.ok()) return s;
    accepted.push_back(file);
  }
  return absl::OkStatus();
}

std::string DefaultPluginDir() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return "plugins";
  const std::string path(exe, static_cast<size_t>(n));
  return path.substr(0, path.find_last_of('/') + 1) + "plugins";
}

}  // namespace vhostd
