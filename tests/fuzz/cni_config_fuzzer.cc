// Fuzzes what vhostd-cni reads from its caller: the network config on stdin (for every
// command), the VERSION request and CNI_ARGS. Oracle: nothing crashes or throws (the
// JSON library throws on bad input; every throw must be caught and become a CNI error).
#include <cstdint>
#include <string>

#include "client/cni/cni_config.h"
#include "client/cni/cni_env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* command : {"ADD", "DEL", "CHECK", "STATUS", "GC"}) {
    vhostd_cni::ParseNetConf(text, command).status().IgnoreError();
  }
  vhostd_cni::ParseVersionRequest(text).status().IgnoreError();
  vhostd_cni::ParseCniArgs(text).status().IgnoreError();
  vhostd_cni::ParseMode(text);
  return 0;
}
