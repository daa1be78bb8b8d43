// A plugin that needs a symbol nothing defines: dlopen(RTLD_NOW) refuses it.
#include "dataplane/plugin_abi.h"

extern "C" void* vhostd_test_symbol_nobody_defines(const vhostd_plugin_config* config);

namespace {

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION, "unresolved-type", "0.1-test", "cannot be loaded", &vhostd_test_symbol_nobody_defines,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
