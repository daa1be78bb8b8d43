// The vdpa plugin's spec checks, and opening a VIRTIO_VDPA port against a fake sysfs
// up to the point where the kernel would have to act (those steps run in the kernel
// lab: virtio_vdpa_lab_test).
#include "plugins/vdpa/vdpa_plugin.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/vdpa/testing/scratch_dir.h"
#include "plugins/vdpa/vdpa.pb.h"
#include "plugins/vdpa/vdpa_claim.h"

namespace vhostd {
namespace {

using plugins::vdpa::v1::VdpaSpec;
using plugins::vdpa::v1::VIRTIO_VDPA;
using ::testing::HasSubstr;
using ::testing::StartsWith;

VdpaSpec VirtioSpec() {
  VdpaSpec spec;
  spec.set_device("vdpa0");
  spec.set_bus(VIRTIO_VDPA);
  return spec;
}

class VdpaPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    ASSERT_FALSE(root_.empty()) << "no scratch directory";
    locations_.dev = root_ + "/dev";
    locations_.sysfs_bus = root_ + "/bus";
    locations_.sysfs_devices = root_ + "/bus/devices";
    locations_.netns_dir = root_ + "/netns";
    locations_.claims_dir = root_ + "/claims";
    for (const std::string& dir : {locations_.dev, locations_.sysfs_devices, locations_.netns_dir}) {
      std::filesystem::create_directories(dir);
    }
    plugin_ = MakeVdpaPlugin(locations_);
  }
  // Normalize's error message ("" if it accepted the spec, which it may rewrite).
  std::string Rejection(VdpaSpec& spec, const std::string& port = "p0") {
    absl::Status status = plugin_->Normalize(port, spec);
    if (!status.ok()) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    }
    return std::string(status.message());
  }
  absl::Status Open(VdpaSpec spec) {
    absl::Status normalized = plugin_->Normalize("p0", spec);
    if (!normalized.ok()) return normalized;
    return plugin_->Open("p0", spec, PluginContext{}).status();
  }
  void AddDriver(const std::string& driver) {
    const std::string dir = locations_.sysfs_bus + "/drivers/" + driver;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/unbind", std::ios::app);
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return text;
  }
  // What an earlier vhostd wrote when it moved vdpa0 to virtio_vdpa as `interface`.
  void AddClaim(const std::string& interface, const std::string& driver = "") {
    VdpaClaim claim;
    claim.device = "vdpa0";
    claim.found.driver = driver;
    claim.interface = interface;
    ASSERT_TRUE(WriteVdpaClaim(claim, locations_).ok());
  }
  std::string AddDevice(const std::string& name, const std::string& driver) {
    const std::string dir = locations_.sysfs_devices + "/" + name;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/driver_override") << "(null)\n";
    if (!driver.empty()) {
      AddDriver(driver);
      EXPECT_EQ(symlink((locations_.sysfs_bus + "/drivers/" + driver).c_str(), (dir + "/driver").c_str()), 0);
    }
    return dir;
  }

  ScratchDir scratch_{"vdpa_plugin_test"};
  std::string root_;  // scratch_.path()
  VdpaLocations locations_;
  std::unique_ptr<PortPlugin> plugin_;
};

TEST_F(VdpaPluginTest, VirtioSpecGetsDefaultsAndCanonicalForms) {
  VdpaSpec spec = VirtioSpec();
  spec.set_netns("pod1");
  spec.set_mac("02:AB:00:00:00:01");
  spec.set_mtu(1400);
  EXPECT_EQ(Rejection(spec, "vnet0"), "");
  EXPECT_EQ(spec.interface(), "vnet0");
  EXPECT_EQ(spec.netns(), locations_.netns_dir + "/pod1");
  EXPECT_EQ(spec.mac(), "02:ab:00:00:00:01");
  EXPECT_FALSE(spec.has_queues());
  VdpaSpec path = VirtioSpec();
  path.set_netns("/proc/1/ns/net");
  path.set_interface("eth0");
  EXPECT_EQ(Rejection(path), "");
  EXPECT_EQ(path.netns(), "/proc/1/ns/net");
  EXPECT_EQ(path.interface(), "eth0");
}

TEST_F(VdpaPluginTest, BadFieldsAreNamed) {
  struct Case {
    std::function<void(VdpaSpec&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](VdpaSpec& s) { s.set_bus(static_cast<plugins::vdpa::v1::VdpaBus>(7)); }, "bus: 7 is not a bus"},
      {[](VdpaSpec& s) { s.set_interface("a-name-too-long-for-linux"); }, "interface: "},
      {[](VdpaSpec& s) { s.set_interface("bad/name"); }, "interface: "},
      {[](VdpaSpec& s) { s.set_interface("bad name"); }, "interface: "},
      {[](VdpaSpec& s) { s.set_netns("a/b"); }, "netns: "},
      {[](VdpaSpec& s) { s.set_netns(".."); }, "netns: "},
      {[](VdpaSpec& s) { s.set_mac("02:00:00:00:00"); }, "mac: "},
      {[](VdpaSpec& s) { s.set_mac("01:00:5e:00:00:01"); }, "mac: "},  // multicast
      {[](VdpaSpec& s) { s.set_mtu(67); }, "mtu: 67 is out of range 68..65535"},
      {[](VdpaSpec& s) { s.set_mtu(65536); }, "mtu: "},
      {[](VdpaSpec& s) { s.set_queues(2); }, "queues: only with bus VHOST_VDPA"},
      {[](VdpaSpec& s) { s.set_device("/dev/vhost-vdpa-0"); }, "device: bus VIRTIO_VDPA takes a vdpa device name"},
      {[](VdpaSpec& s) { s.clear_device(); }, "device: required"},
  };
  for (const Case& c : cases) {
    VdpaSpec spec = VirtioSpec();
    c.change(spec);
    EXPECT_THAT(Rejection(spec), StartsWith(c.field)) << spec.ShortDebugString();
  }
  VdpaSpec unnamed = VirtioSpec();
  EXPECT_THAT(Rejection(unnamed, "a-port-name-longer-than-15"), StartsWith("interface: required"));
}

TEST_F(VdpaPluginTest, VirtioFieldsAreRefusedOnTheVhostBus) {
  for (const char* field : {"interface", "netns", "mac", "mtu"}) {
    VdpaSpec spec;
    spec.set_device("vdpa0");
    if (std::string(field) == "interface") spec.set_interface("eth0");
    if (std::string(field) == "netns") spec.set_netns("pod1");
    if (std::string(field) == "mac") spec.set_mac("02:00:00:00:00:01");
    if (std::string(field) == "mtu") spec.set_mtu(1500);
    EXPECT_THAT(Rejection(spec), StartsWith(std::string(field) + ": only with bus VIRTIO_VDPA"));
  }
}

TEST_F(VdpaPluginTest, OpenRefusesAMissingDevice) {
  AddDriver("virtio_vdpa");
  absl::Status status = Open(VirtioSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("device: no vdpa device named vdpa0"));
}

TEST_F(VdpaPluginTest, OpenRefusesWithoutTheVirtioVdpaDriver) {
  AddDevice("vdpa0", "vhost_vdpa");
  absl::Status status = Open(VirtioSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("bus: VIRTIO_VDPA needs the virtio_vdpa driver"));
}

TEST_F(VdpaPluginTest, OpenRefusesADeviceAlreadyOnVirtioVdpa) {
  const std::string dir = AddDevice("vdpa0", "virtio_vdpa");
  std::filesystem::create_directories(dir + "/virtio0/net/eth3");
  absl::Status status = Open(VirtioSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("device: vdpa device vdpa0 is in use: bound to virtio_vdpa"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("eth3"));
}

TEST_F(VdpaPluginTest, AdoptsADeviceItsRecordSaysVhostdMovedAndPutsItBackOnClose) {
  const std::string dir = AddDevice("vdpa0", "virtio_vdpa");
  AddClaim("p0");  // found on no driver
  VdpaSpec spec = VirtioSpec();
  ASSERT_TRUE(plugin_->Normalize("p0", spec).ok());
  absl::StatusOr<std::unique_ptr<PortBackend>> port = plugin_->Open("p0", spec, PluginContext{});
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_TRUE(std::filesystem::exists(VdpaClaimPath("vdpa0", locations_))) << "kept while the port is open";
  PortState state;
  (*port)->FillStatus(&state, nullptr);
  EXPECT_EQ(state.backend, "virtio-vdpa");
  EXPECT_EQ(state.state, PortLinkState::kError) << "there is no interface p0 here";
  EXPECT_THAT(state.message, HasSubstr("interface p0 is gone"));
  port->reset();
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers/virtio_vdpa/unbind"), "vdpa0");
  EXPECT_EQ(Read(dir + "/driver_override"), "") << "the found state: no override";
  EXPECT_FALSE(std::filesystem::exists(VdpaClaimPath("vdpa0", locations_))) << "the device is back";
}

TEST_F(VdpaPluginTest, KeepsTheRecordWhenTheDeviceCannotBePutBack) {
  AddDevice("vdpa0", "virtio_vdpa");
  AddClaim("p0", "vhost_vdpa");  // the fake kernel binds nothing, so the rebind fails
  VdpaSpec spec = VirtioSpec();
  ASSERT_TRUE(plugin_->Normalize("p0", spec).ok());
  absl::StatusOr<std::unique_ptr<PortBackend>> port = plugin_->Open("p0", spec, PluginContext{});
  ASSERT_TRUE(port.ok()) << port.status();
  port->reset();
  EXPECT_TRUE(std::filesystem::exists(VdpaClaimPath("vdpa0", locations_))) << "a later port adopts and retries";
}

TEST_F(VdpaPluginTest, RefusesADeviceRecordedForAnotherSpec) {
  AddDevice("vdpa0", "virtio_vdpa");
  AddClaim("vnet7");
  absl::Status status = Open(VirtioSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()),
              StartsWith("device: vdpa device vdpa0 is in use: bound to virtio_vdpa by an earlier vhostd as vnet7"));
  EXPECT_TRUE(std::filesystem::exists(VdpaClaimPath("vdpa0", locations_)));
}

TEST_F(VdpaPluginTest, AnUnusableRecordIsNamedAndNothingIsAdopted) {
  AddDevice("vdpa0", "virtio_vdpa");
  std::filesystem::create_directories(locations_.claims_dir);
  std::ofstream(VdpaClaimPath("vdpa0", locations_)) << "driver: \"mlx5_core\"\n";
  absl::Status status = Open(VirtioSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("device: vdpa device vdpa0 is in use: bound to virtio_vdpa"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("record " + VdpaClaimPath("vdpa0", locations_) +
                                                        ": line 1 (driver): not a driver vhostd takes devices from"));
}

TEST_F(VdpaPluginTest, OpenRefusesAVhostVdpaDeviceWithoutItsNode) {
  AddDriver("virtio_vdpa");
  AddDevice("vdpa0", "vhost_vdpa");
  absl::Status status = Open(VirtioSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("device: "));
}

TEST_F(VdpaPluginTest, OpenRefusesAMissingNetnsAndTouchesNothing) {
  AddDriver("virtio_vdpa");
  const std::string dir = AddDevice("vdpa0", "");
  VdpaSpec spec = VirtioSpec();
  spec.set_netns("nosuchns");
  absl::Status status = Open(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(std::string(status.message()), "netns: " + locations_.netns_dir + "/nosuchns does not exist");
  std::ifstream override(dir + "/driver_override");
  std::string text;
  std::getline(override, text);
  EXPECT_EQ(text, "(null)");
}

}  // namespace
}  // namespace vhostd
