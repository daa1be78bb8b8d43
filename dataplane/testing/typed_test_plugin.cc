// A loader-test plugin with a generated spec message of its own (test_spec.proto).
// TEST_PLUGIN_TYPE (set per target) gives copies that differ only in their type name.
#include "dataplane/plugin_abi.h"
#include "dataplane/port_plugin.h"
#include "dataplane/testing/test_spec.pb.h"

namespace {

using vhostd::testing::v1::TestSpec;

class TypedTestPlugin : public vhostd::TypedPortPlugin<TestSpec> {
 protected:
  absl::Status NormalizeSpec(const std::string&, TestSpec&) const override { return absl::OkStatus(); }
  absl::StatusOr<std::unique_ptr<vhostd::PortBackend>> OpenSpec(const std::string&, const TestSpec&,
                                                                const vhostd::PluginContext&) override {
    return absl::UnimplementedError("test plugin opens no ports");
  }
};

void* Create(const vhostd_plugin_config*) { return new TypedTestPlugin; }

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION, TEST_PLUGIN_TYPE, "0.1-test", "a plugin with its own spec message", &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
