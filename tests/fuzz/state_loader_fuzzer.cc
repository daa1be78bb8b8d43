// Fuzzes the state file loader: the input is split into a snapshot and a journal, both
// written where a daemon would read them, and loaded. Oracle: whatever loads saves and
// loads again to the same state (a restart after a restart changes nothing).
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "google/protobuf/util/message_differencer.h"
#include "server/state_store.h"

namespace {

const std::string& WorkDir() {
  static const std::string* dir = [] {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/state_fuzzer_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) abort();
    return new std::string(pattern);
  }();
  return *dir;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Input: snapshot length (2 bytes, little endian), snapshot, journal.
  if (size < 2) return 0;
  const size_t snapshot_length = std::min<size_t>(data[0] | (data[1] << 8), size - 2);
  const char* bytes = reinterpret_cast<const char*>(data + 2);
  const std::string path = WorkDir() + "/state.json", again = WorkDir() + "/again.json";
  Write(path, std::string(bytes, snapshot_length));
  Write(path + ".journal", std::string(bytes + snapshot_length, size - 2 - snapshot_length));
  vhostd::StateStore store(path);
  absl::StatusOr<vhostd::state::DesiredState> loaded = store.Load();
  if (!loaded.ok()) return 0;
  unlink(again.c_str());
  unlink((again + ".journal").c_str());
  vhostd::StateStore second(again);
  if (absl::Status saved = second.Save(*loaded); !saved.ok()) {
    fprintf(stderr, "state_loader_fuzzer: a loaded state does not save: %s\n", saved.ToString().c_str());
    abort();
  }
  absl::StatusOr<vhostd::state::DesiredState> reloaded = second.Load();
  if (!reloaded.ok() || !google::protobuf::util::MessageDifferencer::Equals(*loaded, *reloaded)) {
    fprintf(stderr, "state_loader_fuzzer: saved and loaded again, the state differs (%s)\n",
            reloaded.ok() ? "content" : reloaded.status().ToString().c_str());
    abort();
  }
  return 0;
}
