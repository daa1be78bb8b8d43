// The CNI protocol pieces: versions, environment, config, result type, error objects.
#include <map>
#include <string>
#include <vector>

#include "client/cni/cni_config.h"
#include "client/cni/cni_env.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_result.h"
#include "client/cni/cni_version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

json BaseConfig() {
  return {{"cniVersion", "1.1.0"}, {"name", "net1"}, {"type", "vhostd-cni"},
          {"portType", "vhost-user"}, {"vhostUser", {{"socketDir", "/run/vhostd/sockets"}}}};
}

int CodeOfParse(const json& conf, const std::string& command = "ADD") {
  absl::StatusOr<NetConf> net = ParseNetConf(conf.dump(), command);
  return net.ok() ? 0 : CniCodeOf(net.status());
}

TEST(Version, ComparesAndNegotiates) {
  EXPECT_EQ(CompareVersions("0.4.0", "1.0.0"), -1);
  EXPECT_EQ(CompareVersions("1.1.0", "1.0.0"), 1);
  EXPECT_EQ(CompareVersions("1.1.0", "1.1.0"), 0);
  EXPECT_FALSE(CompareVersions("1.x.0", "1.0.0"));
  EXPECT_FALSE(CompareVersions("1.0", "1.0.0"));
  EXPECT_TRUE(AtLeast("1.0.0", "0.4.0"));
  EXPECT_FALSE(AtLeast("0.3.1", "0.4.0"));
  // Debian's host-local 1.1.1 stops at 1.0.0.
  const std::vector<std::string> host_local = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"};
  EXPECT_EQ(NegotiateVersion("1.1.0", host_local), "1.0.0");
  EXPECT_EQ(NegotiateVersion("0.4.0", host_local), "0.4.0");
  EXPECT_FALSE(NegotiateVersion("1.1.0", {"0.1.0", "0.2.0"}));
  EXPECT_EQ(CniCodeOf(CheckSupported("0.2.0")), kIncompatibleVersion);
  EXPECT_TRUE(CheckSupported("0.3.1").ok());
}

TEST(Environment, RequiresWhatEachCommandNeeds) {
  Environment add{"ADD", "c1", "/run/netns/x", "eth0", "", "/usr/lib/cni"};
  EXPECT_TRUE(ValidateEnvironment(add).ok());
  Environment no_netns = add;
  no_netns.netns = "";
  absl::Status s = ValidateEnvironment(no_netns);
  EXPECT_EQ(CniCodeOf(s), kInvalidEnvironment);
  EXPECT_NE(s.message().find("CNI_NETNS"), std::string::npos) << s;
  Environment del = no_netns;
  del.command = "DEL";  // DEL needs no netns
  EXPECT_TRUE(ValidateEnvironment(del).ok());
  Environment gc{"GC", "", "", "", "", ""};
  EXPECT_NE(ValidateEnvironment(gc).message().find("CNI_PATH"), std::string::npos);
  EXPECT_TRUE(ValidateEnvironment({"VERSION", "", "", "", "", ""}).ok());
  // libcni validates a conflist by running VERSION with placeholder values.
  EXPECT_TRUE(ValidateEnvironment({"VERSION", "dummy", "dummy", "dummy", "", "/x"}).ok());
  EXPECT_EQ(CniCodeOf(ValidateEnvironment({"FROB", "", "", "", "", ""})), kInvalidEnvironment);
  EXPECT_EQ(CniCodeOf(ValidateEnvironment({"", "", "", "", "", ""})), kInvalidEnvironment);
  Environment bad_id = add;
  bad_id.container_id = "-c1";
  EXPECT_NE(ValidateEnvironment(bad_id).message().find("CNI_CONTAINERID"), std::string::npos);
  Environment bad_if = add;
  bad_if.ifname = "a-very-long-interface-name";
  EXPECT_NE(ValidateEnvironment(bad_if).message().find("CNI_IFNAME"), std::string::npos);
  bad_if.ifname = "eth/0";
  EXPECT_EQ(CniCodeOf(ValidateEnvironment(bad_if)), kInvalidEnvironment);
  Environment bad_args = add;
  bad_args.args = "IgnoreUnknown=1;K8S_POD_NAME";
  EXPECT_NE(ValidateEnvironment(bad_args).message().find("CNI_ARGS"), std::string::npos);
}

TEST(Environment, ParsesCniArgs) {
  absl::StatusOr<std::map<std::string, std::string>> args =
      ParseCniArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K=a=b");
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->at("K8S_POD_NAME"), "web-0");
  EXPECT_EQ(args->at("K8S_POD_NAMESPACE"), "default");
  EXPECT_EQ(args->at("K"), "a=b");
  EXPECT_EQ(SplitCniPath("/opt/cni/bin::/usr/lib/cni"), (std::vector<std::string>{"/opt/cni/bin", "/usr/lib/cni"}));
}

TEST(Config, ParsesAVhostUserNetwork) {
  json conf = BaseConfig();
  conf["vhostUser"]["mode"] = "client";
  conf["vhostUser"]["owner"] = 107;
  conf["vhostUser"]["group"] = "0";
  conf["vhostUser"]["permissions"] = "0640";
  conf["timeoutSeconds"] = 3;
  conf["ipam"] = {{"type", "host-local"}, {"subnet", "10.1.0.0/24"}};
  conf["runtimeConfig"] = {{"CNIDeviceInfoFile", "/var/run/k8s.cni.cncf.io/devinfo/cni/x"}};
  conf["spec"] = {{"queues", 2}};
  conf["someOtherPluginsKey"] = true;  // passed through, not ours to refuse
  absl::StatusOr<NetConf> net = ParseNetConf(conf.dump(), "ADD");
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(net->port_type, "vhost-user");
  EXPECT_EQ(net->vhost_user.socket_dir, "/run/vhostd/sockets");
  EXPECT_FALSE(net->vhost_user.vhostd_is_server);
  EXPECT_EQ(net->vhost_user.owner, 107u);
  EXPECT_EQ(net->vhost_user.group, 0u);
  EXPECT_EQ(net->vhost_user.permissions, 0640u);
  EXPECT_EQ(net->timeout_ms, 3000);
  EXPECT_EQ(net->ipam_type, "host-local");
  EXPECT_EQ(net->device_info_file, "/var/run/k8s.cni.cncf.io/devinfo/cni/x");
  EXPECT_EQ(net->spec["queues"], 2);
  EXPECT_EQ(net->server, kDefaultServer);
  EXPECT_EQ(net->raw, conf);
}

TEST(Config, MalformedConfigsGetTheSpecsCodes) {
  EXPECT_EQ(CniCodeOf(ParseNetConf("{\"cniVersion\": ", "ADD").status()), kDecodingFailure);
  EXPECT_EQ(CniCodeOf(ParseNetConf("[1,2]", "ADD").status()), kDecodingFailure);
  EXPECT_EQ(CniCodeOf(ParseNetConf("", "ADD").status()), kDecodingFailure);
  // Found by cni_config_fuzzer: a number too large for a double threw out_of_range.
  EXPECT_EQ(CniCodeOf(ParseNetConf("1E400", "ADD").status()), kDecodingFailure);
  EXPECT_EQ(CniCodeOf(ParseNetConf("{\"mtu\": 1E400}", "ADD").status()), kDecodingFailure);
  json conf = BaseConfig();
  conf["cniVersion"] = "0.2.0";
  EXPECT_EQ(CodeOfParse(conf), kIncompatibleVersion);
  conf["cniVersion"] = "0.3.1";
  EXPECT_EQ(CodeOfParse(conf), 0);
  EXPECT_EQ(CodeOfParse(conf, "CHECK"), kIncompatibleVersion);  // CHECK came with 0.4.0
  conf["cniVersion"] = "1.0.0";
  EXPECT_EQ(CodeOfParse(conf, "GC"), kIncompatibleVersion);  // GC and STATUS with 1.1.0
  EXPECT_EQ(CodeOfParse(conf, "STATUS"), kIncompatibleVersion);
  conf = BaseConfig();
  conf.erase("cniVersion");
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf.erase("portType");
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["name"] = "bad name";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf.erase("vhostUser");
  absl::StatusOr<NetConf> missing = ParseNetConf(conf.dump(), "ADD");
  EXPECT_NE(missing.status().message().find("vhostUser.socketDir"), std::string::npos) << missing.status();
  conf = BaseConfig();
  conf["vhostUser"]["socketDir"] = "relative/dir";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["vhostUser"]["mode"] = "both";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["vhostUser"]["permissions"] = "0999";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["vhostUser"]["owner"] = "no-such-user-here";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["vhostUser"]["sockDir"] = "/x";  // a typo in our own object
  absl::StatusOr<NetConf> unknown = ParseNetConf(conf.dump(), "ADD");
  EXPECT_EQ(CniCodeOf(unknown.status()), kUnsupportedField);
  EXPECT_NE(unknown.status().message().find("vhostUser.sockDir"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("\"/x\""), std::string::npos);
  conf = BaseConfig();
  conf["timeoutSeconds"] = 0;
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["spec"] = "queues=2";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["ipam"] = {{"type", "../evil"}};
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["portType"] = "vdpa";
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);  // no vdpa.devices
  conf["vdpa"] = {{"devices", {"vdpa0", ""}}};
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf = BaseConfig();
  conf["xconnect"] = {{"peer", "up0"}};
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);  // a cross-connect needs a name
  conf = BaseConfig();
  conf["bridge"] = {{"name", "br0"}, {"accessVlan", 5000}};
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
  conf["bridge"] = {{"name", "br0"}, {"vlan", 5}};
  EXPECT_EQ(CodeOfParse(conf), kUnsupportedField);
  conf["bridge"] = {{"name", "br0"}};
  conf["xconnect"] = {{"name", "x"}};
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);  // one or the other
  conf.erase("xconnect");
  conf["bridge"] = {{"name", "br0"}, {"accessVlan", 10}};
  absl::StatusOr<NetConf> bridged = ParseNetConf(conf.dump(), "ADD");
  ASSERT_TRUE(bridged.ok()) << bridged.status();
  EXPECT_EQ(bridged->bridge->name, "br0");
  EXPECT_EQ(bridged->bridge->access_vlan, 10u);
  EXPECT_TRUE(bridged->bridge->trunk_vlans.empty());
  conf["bridge"] = {{"name", "br0"}, {"trunkVlans", {10, 20, 4094}}};
  absl::StatusOr<NetConf> trunk = ParseNetConf(conf.dump(), "ADD");
  ASSERT_TRUE(trunk.ok()) << trunk.status();
  EXPECT_EQ(trunk->bridge->access_vlan, 0u);
  EXPECT_EQ(trunk->bridge->trunk_vlans, (std::vector<uint32_t>{10, 20, 4094}));
  for (const json& bad : {json::array(), json(7), json({10, 0}), json({10, 4095}), json({10, 10}),
                          json({10, -1}), json({"10"}), json({1.5})}) {
    conf["bridge"] = {{"name", "br0"}, {"trunkVlans", bad}};
    absl::StatusOr<NetConf> refused = ParseNetConf(conf.dump(), "ADD");
    EXPECT_EQ(CniCodeOf(refused.status()), kInvalidConfig) << bad.dump();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("bridge.trunkVlans")) << bad.dump();
  }
  conf["bridge"] = {{"name", "br0"}, {"accessVlan", 10}, {"trunkVlans", {20}}};
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);  // one or the other
  conf = BaseConfig();
  conf["portType"] = "vhost-kernel";
  conf["mtu"] = 20;
  EXPECT_EQ(CodeOfParse(conf), kInvalidConfig);
}

TEST(Config, GcTakesTheValidAttachments) {
  json conf = BaseConfig();
  conf["cni.dev/valid-attachments"] = {{{"containerID", "c1"}, {"ifname", "eth0"}}};
  absl::StatusOr<NetConf> net = ParseNetConf(conf.dump(), "GC");
  ASSERT_TRUE(net.ok()) << net.status();
  ASSERT_EQ(net->valid_attachments.size(), 1u);
  EXPECT_EQ(net->valid_attachments[0].container_id, "c1");
  conf["cni.dev/valid-attachments"] = {{{"containerID", "c1"}}};
  EXPECT_EQ(CodeOfParse(conf, "GC"), kInvalidConfig);
}

TEST(Config, VersionRequest) {
  EXPECT_EQ(*ParseVersionRequest(""), "");
  EXPECT_EQ(*ParseVersionRequest("{\"cniVersion\":\"0.4.0\"}"), "0.4.0");
  EXPECT_EQ(CniCodeOf(ParseVersionRequest("{").status()), kDecodingFailure);
  EXPECT_EQ(ParseMode("0660"), 0660u);
  EXPECT_FALSE(ParseMode("1777"));
  EXPECT_FALSE(ParseMode("rw"));
}

TEST(Result, ReadsOldVersionsAndWritesEach) {
  // A 0.4.0 result as host-local writes it.
  const json old = json::parse(R"({"cniVersion":"0.4.0",
      "ips":[{"version":"4","address":"10.1.0.5/24","gateway":"10.1.0.1"}],
      "routes":[{"dst":"0.0.0.0/0"}], "dns":{"nameservers":["10.1.0.1"]}})");
  absl::StatusOr<Result> result = ParseResult(old, "ipam result");
  ASSERT_TRUE(result.ok()) << result.status();
  result->interfaces.push_back({"eth0", "02:00:00:00:00:01", 1500, "/run/netns/x", "/run/s/a.sock", ""});
  result->ips[0].interface = 0;
  result->routes[0]["priority"] = 10;

  const json v110 = FormatResult(*result, "1.1.0");
  EXPECT_EQ(v110["cniVersion"], "1.1.0");
  EXPECT_EQ(v110["interfaces"][0]["socketPath"], "/run/s/a.sock");
  EXPECT_EQ(v110["interfaces"][0]["mtu"], 1500);
  EXPECT_FALSE(v110["ips"][0].contains("version"));
  EXPECT_EQ(v110["ips"][0]["interface"], 0);
  EXPECT_EQ(v110["routes"][0]["priority"], 10);
  EXPECT_EQ(v110["dns"]["nameservers"][0], "10.1.0.1");

  const json v100 = FormatResult(*result, "1.0.0");
  EXPECT_FALSE(v100["interfaces"][0].contains("socketPath"));
  EXPECT_FALSE(v100["interfaces"][0].contains("mtu"));
  EXPECT_FALSE(v100["routes"][0].contains("priority"));
  EXPECT_FALSE(v100["ips"][0].contains("version"));

  const json v031 = FormatResult(*result, "0.3.1");
  EXPECT_EQ(v031["ips"][0]["version"], "4");
  EXPECT_EQ(v031["interfaces"][0]["sandbox"], "/run/netns/x");

  // What FormatResult writes reads back the same.
  absl::StatusOr<Result> again = ParseResult(v110, "prevResult");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatResult(*again, "1.1.0"), v110);
}

TEST(Result, RefusesWhatIsNotAResult) {
  EXPECT_EQ(CniCodeOf(ParseResult(json::array(), "prevResult").status()), kDecodingFailure);
  EXPECT_FALSE(ParseResult(json::parse(R"({"ips":[{"address":"10.1.0.5"}]})"), "x").ok());
  EXPECT_FALSE(ParseResult(json::parse(R"({"ips":[{"address":"10.1.0.5/24","interface":3}]})"), "x").ok());
  EXPECT_FALSE(ParseResult(json::parse(R"({"routes":[{"gw":"10.0.0.1"}]})"), "x").ok());
  EXPECT_TRUE(ValidCidr("fd00::5/64"));
  EXPECT_FALSE(ValidCidr("10.0.0.1/33"));
}

TEST(Error, PrintsTheSpecsErrorObject) {
  const absl::Status error = CniError(kTryAgainLater, "vhostd is down", "retry");
  EXPECT_EQ(CniCodeOf(error), 11);
  const json printed = json::parse(ErrorJson(error, "1.0.0"));
  EXPECT_EQ(printed, json::parse(R"({"cniVersion":"1.0.0","code":11,"msg":"vhostd is down","details":"retry"})"));
  const absl::Status prefixed = WithPrefix(error, "ipam: ");
  EXPECT_EQ(prefixed.message(), "ipam: vhostd is down");
  EXPECT_EQ(CniCodeOf(prefixed), 11);
  EXPECT_EQ(CniDetailsOf(prefixed), "retry");
  EXPECT_EQ(CniCodeOf(absl::InternalError("library")), kInternal);
  EXPECT_FALSE(json::parse(ErrorJson(CniError(7, "x"), "1.1.0")).contains("details"));
}

}  // namespace
}  // namespace vhostd_cni
