#include "plugins/vdpa/vdpa_bus.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/vdpa/testing/scratch_dir.h"

namespace vhostd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A fake /sys/bus/vdpa: devices/, drivers/<name>/{bind,unbind}, drivers_probe. Writes
// land in plain files, so a test reads back what the code asked the kernel to do; the
// fake kernel does nothing (a probe binds nothing).
class VdpaBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    ASSERT_FALSE(root_.empty()) << "no scratch directory";
    locations_.sysfs_bus = root_ + "/bus";
    locations_.sysfs_devices = root_ + "/bus/devices";
    std::filesystem::create_directories(locations_.sysfs_devices);
    std::filesystem::create_directories(locations_.sysfs_bus + "/drivers");
    Write(locations_.sysfs_bus + "/drivers_probe", "");
  }
  static void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string AddDriver(const std::string& driver) {
    const std::string dir = locations_.sysfs_bus + "/drivers/" + driver;
    std::filesystem::create_directories(dir);
    Write(dir + "/unbind", "");
    return dir;
  }
  // devices/<name> bound to `driver` ("" for none), driver_override as sysfs shows it.
  std::string AddDevice(const std::string& name, const std::string& driver, const std::string& override = "(null)\n") {
    const std::string dir = locations_.sysfs_devices + "/" + name;
    std::filesystem::create_directories(dir);
    Write(dir + "/driver_override", override);
    if (!driver.empty()) Bind(name, driver);
    return dir;
  }
  void Bind(const std::string& name, const std::string& driver) {
    const std::string link = locations_.sysfs_devices + "/" + name + "/driver";
    unlink(link.c_str());
    EXPECT_EQ(symlink(AddDriver(driver).c_str(), link.c_str()), 0);
  }

  ScratchDir scratch_{"vdpa_bus_test"};
  std::string root_;  // scratch_.path()
  VdpaLocations locations_;
};

TEST_F(VdpaBusTest, DriverLoadedIsTheBusDriverDirectory) {
  EXPECT_FALSE(VdpaDriverLoaded("virtio_vdpa", locations_));
  AddDriver("virtio_vdpa");
  EXPECT_TRUE(VdpaDriverLoaded("virtio_vdpa", locations_));
  EXPECT_FALSE(VdpaDriverLoaded("vhost_vdpa", locations_));
}

TEST_F(VdpaBusTest, ReadsBindingWithNullOverrideAsNone) {
  AddDevice("vdpa0", "vhost_vdpa");
  absl::StatusOr<VdpaBinding> binding = ReadVdpaBinding("vdpa0", locations_);
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ(binding->driver, "vhost_vdpa");
  EXPECT_EQ(binding->driver_override, "");
}

TEST_F(VdpaBusTest, ReadsUnboundDeviceWithOverride) {
  AddDevice("vdpa1", "", "vhost_vdpa\n");
  absl::StatusOr<VdpaBinding> binding = ReadVdpaBinding("vdpa1", locations_);
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ(binding->driver, "");
  EXPECT_EQ(binding->driver_override, "vhost_vdpa");
}

TEST_F(VdpaBusTest, ReadingAMissingDeviceFails) {
  absl::StatusOr<VdpaBinding> binding = ReadVdpaBinding("vdpa9", locations_);
  EXPECT_EQ(binding.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(binding.status().message()), HasSubstr("vdpa9/driver_override"));
}

TEST_F(VdpaBusTest, BindUnbindsPinsAndProbesThenChecksTheResult) {
  const std::string dir = AddDevice("vdpa0", "vhost_vdpa");
  AddDriver("virtio_vdpa");
  // The fake kernel binds nothing, so the check after the probe fails, naming both.
  absl::Status status = BindVdpaDevice("vdpa0", "virtio_vdpa", locations_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("did not bind to virtio_vdpa"));
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers/vhost_vdpa/unbind"), "vdpa0");
  EXPECT_EQ(Read(dir + "/driver_override"), "virtio_vdpa");
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers_probe"), "vdpa0");
}

TEST_F(VdpaBusTest, BindSucceedsWhenTheDeviceEndsUpOnTheDriver) {
  const std::string dir = AddDevice("vdpa0", "virtio_vdpa");  // as if the probe had worked
  EXPECT_TRUE(BindVdpaDevice("vdpa0", "virtio_vdpa", locations_).ok());
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers/virtio_vdpa/unbind"), "vdpa0");
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers_probe"), "vdpa0");
}

TEST_F(VdpaBusTest, BindingAnUnboundDeviceWritesNoUnbind) {
  const std::string dir = AddDevice("vdpa0", "");
  const std::string unbind = AddDriver("vhost_vdpa") + "/unbind";
  BindVdpaDevice("vdpa0", "vhost_vdpa", locations_).IgnoreError();
  EXPECT_EQ(Read(unbind), "");
  EXPECT_EQ(Read(dir + "/driver_override"), "vhost_vdpa");
}

TEST_F(VdpaBusTest, RestoringNoDriverUnbindsClearsTheOverrideAndProbesNothing) {
  const std::string dir = AddDevice("vdpa0", "virtio_vdpa", "virtio_vdpa\n");
  ASSERT_TRUE(RestoreVdpaBinding("vdpa0", VdpaBinding{}, locations_).ok());
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers/virtio_vdpa/unbind"), "vdpa0");
  EXPECT_EQ(Read(dir + "/driver_override"), "\n");
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers_probe"), "");
}

TEST_F(VdpaBusTest, RestoringADriverPutsTheOldOverrideBack) {
  const std::string dir = AddDevice("vdpa0", "vhost_vdpa");  // as if the probe had worked
  ASSERT_TRUE(RestoreVdpaBinding("vdpa0", VdpaBinding{"vhost_vdpa", ""}, locations_).ok());
  EXPECT_EQ(Read(locations_.sysfs_bus + "/drivers_probe"), "vdpa0");
  EXPECT_EQ(Read(dir + "/driver_override"), "\n");  // pinned for the probe, then cleared
}

TEST_F(VdpaBusTest, MissingAttributeIsAnErrorNamingIt) {
  AddDevice("vdpa0", "");
  std::filesystem::remove(locations_.sysfs_bus + "/drivers_probe");
  absl::Status status = BindVdpaDevice("vdpa0", "virtio_vdpa", locations_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("drivers_probe"));
}

TEST_F(VdpaBusTest, FindsTheInterfacesOfTheVirtioChild) {
  const std::string dir = AddDevice("vdpa0", "virtio_vdpa");
  EXPECT_THAT(VirtioNetInterfaces("vdpa0", locations_), IsEmpty());
  std::filesystem::create_directories(dir + "/virtio3/net/eth1");
  std::filesystem::create_directories(dir + "/power");         // not a virtio child
  std::filesystem::create_directories(dir + "/vhost-vdpa-0");  // neither
  EXPECT_THAT(VirtioNetInterfaces("vdpa0", locations_), ElementsAre("eth1"));
  EXPECT_THAT(VirtioNetInterfaces("vdpa9", locations_), IsEmpty());
}

}  // namespace
}  // namespace vhostd
