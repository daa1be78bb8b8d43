// The port an attachment gets, built through the plugins' descriptors as ListPlugins
// carries them (no plugin message compiled in).
#include <string>

#include "client/cni/cni_attachment.h"
#include "client/cni/cni_config.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_port_spec.h"
#include "client/testing/test_descriptors.h"
#include "client/type_catalog.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

using vhostctl::test_data::UnpackToText;

class PortSpecTest : public ::testing::Test {
 protected:
  PortSpecTest() { catalog_.AddPlugins(vhostctl::test_data::Plugins()); }

  absl::StatusOr<vhostd::v1::Port> Build(const nlohmann::json& conf, const std::string& vdpa_device = "") {
    absl::StatusOr<NetConf> net = ParseNetConf(conf.dump(), "ADD");
    if (!net.ok()) return net.status();
    absl::StatusOr<AttachmentNames> names = NamesFor(*net, env_.container_id, env_.ifname);
    if (!names.ok()) return names.status();
    return BuildPort(*net, env_, *names, vdpa_device, catalog_);
  }

  static nlohmann::json Conf(const std::string& type) {
    nlohmann::json conf = {{"cniVersion", "1.1.0"}, {"name", "net1"}, {"type", "vhostd-cni"}, {"portType", type}};
    if (type == "vhost-user") conf["vhostUser"] = {{"socketDir", "/run/vhostd/sockets"}};
    if (type == "vdpa") conf["vdpa"] = {{"devices", {"vdpa0", "vdpa1"}}};
    return conf;
  }

  vhostctl::TypeCatalog catalog_;
  Environment env_{"ADD", "c1", "/run/netns/pod1", "net1", "", "/usr/lib/cni"};
};

TEST_F(PortSpecTest, VhostUserGetsTheAttachmentsSocketAndTheSpecsOptions) {
  nlohmann::json conf = Conf("vhost-user");
  conf["vhostUser"]["mode"] = "client";
  conf["spec"] = {{"queues", 4}, {"tso", true}};
  absl::StatusOr<vhostd::v1::Port> port = Build(conf);
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string name = NamesFor(*ParseNetConf(conf.dump(), "ADD"), "c1", "net1")->port;
  EXPECT_EQ(port->name(), name);
  EXPECT_EQ(port->type(), "vhost-user");
  EXPECT_EQ(port->spec().type_url(), "type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec");
  EXPECT_EQ(UnpackToText(port->spec()),
            "socket_path: \"/run/vhostd/sockets/" + name + "/net1.sock\" mode: MODE_CLIENT queues: 4 tso: true");
}

TEST_F(PortSpecTest, VhostKernelGetsTheTapInThePodsNetns) {
  nlohmann::json conf = Conf("vhost-kernel");
  conf["mtu"] = 9000;
  conf["runtimeConfig"] = {{"mac", "02:11:22:33:44:55"}};
  conf["spec"] = {{"allowPlainTap", true}};
  absl::StatusOr<vhostd::v1::Port> port = Build(conf);
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(UnpackToText(port->spec()),
            "tap_name: \"net1\" netns: \"/run/netns/pod1\" mac: \"02:11:22:33:44:55\" mtu: 9000 "
            "allow_plain_tap: true");
}

TEST_F(PortSpecTest, VdpaGetsTheDevicePicked) {
  absl::StatusOr<vhostd::v1::Port> port = Build(Conf("vdpa"), "vdpa1");
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(UnpackToText(port->spec()), "device: \"vdpa1\"");
  EXPECT_EQ(*PickDevice({"vdpa0", "vdpa1"}, {"vdpa0"}), "vdpa1");
  EXPECT_EQ(CniCodeOf(PickDevice({"vdpa0"}, {"vdpa0"}).status()), kResourceExhausted);
}

TEST_F(PortSpecTest, AnyOtherTypeTakesItsSpecAsItIs) {
  nlohmann::json conf = Conf("test-type");
  absl::StatusOr<vhostd::v1::Port> plain = Build(conf);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->type(), "test-type");
  EXPECT_EQ(plain->spec().type_url(), "type.googleapis.com/vhostctl.testing.v1.TestSpec");
  conf["spec"] = {{"socketPath", "/any/thing.sock"}, {"tags", {"a", "b"}}};  // not owned for this type
  absl::StatusOr<vhostd::v1::Port> port = Build(conf);
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(UnpackToText(port->spec()), "socket_path: \"/any/thing.sock\" tags: \"a\" tags: \"b\"");
}

TEST_F(PortSpecTest, RefusesWhatTheConfigCannotAsk) {
  nlohmann::json conf = Conf("vhost-user");
  conf["spec"] = {{"socketPath", "/elsewhere.sock"}};
  absl::StatusOr<vhostd::v1::Port> owned = Build(conf);
  EXPECT_EQ(CniCodeOf(owned.status()), kInvalidConfig);
  EXPECT_NE(owned.status().message().find("spec.socketPath: set by vhostd-cni"), std::string::npos) << owned.status();

  conf["spec"] = {{"queus", 2}};
  absl::StatusOr<vhostd::v1::Port> misspelt = Build(conf);
  EXPECT_EQ(CniCodeOf(misspelt.status()), kInvalidConfig);
  EXPECT_NE(misspelt.status().message().find("spec: "), std::string::npos) << misspelt.status();

  conf["spec"] = {{"queues", "many"}};
  EXPECT_EQ(CniCodeOf(Build(conf).status()), kInvalidConfig);

  absl::StatusOr<vhostd::v1::Port> unknown = Build(Conf("frobnicator"));
  EXPECT_EQ(CniCodeOf(unknown.status()), kInvalidConfig);
  EXPECT_NE(unknown.status().message().find("portType"), std::string::npos);
  EXPECT_NE(CniDetailsOf(unknown.status()).find("vhost-user"), std::string::npos);
}

}  // namespace
}  // namespace vhostd_cni
