// A minimal port-type plugin for loader tests. TEST_PLUGIN_ABI and TEST_PLUGIN_VERSION
// (set per target) make well-formed, duplicate and wrong-ABI variants from one source.
#include "dataplane/plugin_abi.h"
#include "dataplane/port_plugin.h"
#include "google/protobuf/empty.pb.h"

#ifndef TEST_PLUGIN_ABI
#define TEST_PLUGIN_ABI VHOSTD_PLUGIN_ABI_VERSION
#endif
#ifndef TEST_PLUGIN_VERSION
#define TEST_PLUGIN_VERSION "0.1-test"
#endif

namespace {

// Its spec is google.protobuf.Empty (no fields, no generated code of its own).
class TestPlugin : public vhostd::TypedPortPlugin<google::protobuf::Empty> {
 protected:
  absl::Status NormalizeSpec(const std::string&, google::protobuf::Empty&) const override { return absl::OkStatus(); }
  absl::StatusOr<std::unique_ptr<vhostd::PortBackend>> OpenSpec(const std::string&, const google::protobuf::Empty&,
                                                                const vhostd::PluginContext&) override {
    return absl::UnimplementedError("test plugin opens no ports");
  }
};

void* Create(const vhostd_plugin_config*) { return new TestPlugin; }

constexpr vhostd_plugin_descriptor kDescriptor = {
    TEST_PLUGIN_ABI, "test-type", TEST_PLUGIN_VERSION, "a plugin for loader tests", &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
