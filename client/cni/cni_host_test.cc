// vhostd-cni's host side: names, labels, files, the lock, running programs, device-info.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "client/cni/cni_attachment.h"
#include "client/cni/cni_config.h"
#include "client/cni/cni_device_info.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_exec.h"
#include "client/cni/cni_files.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

std::string TempDir() {
  std::string pattern = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/cniXXXXXX";
  return mkdtemp(pattern.data());
}

NetConf VhostUserNet(const std::string& socket_dir) {
  NetConf net;
  net.name = "net1";
  net.port_type = "vhost-user";
  net.vhost_user.socket_dir = socket_dir;
  net.state_dir = "/var/lib/cni/vhostd-cni";
  return net;
}

TEST(Names, AreShortStableAndPerAttachment) {
  const NetConf net = VhostUserNet("/run/vhostd/sockets");
  const std::string id(64, 'a');
  absl::StatusOr<AttachmentNames> a = NamesFor(net, id, "eth0");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->port.size(), 20u);  // "cni-" + 16 hex: an RFC 1123 label
  EXPECT_EQ(a->port.rfind("cni-", 0), 0u);
  EXPECT_EQ(a->socket_dir, "/run/vhostd/sockets/" + a->port);
  EXPECT_EQ(a->socket_path, a->socket_dir + "/eth0.sock");
  EXPECT_EQ(a->cache_file, "/var/lib/cni/vhostd-cni/results/" + a->port + ".json");
  EXPECT_EQ(NamesFor(net, id, "eth0")->port, a->port);
  EXPECT_NE(NamesFor(net, id, "eth1")->port, a->port);
  EXPECT_NE(NamesFor(net, std::string(64, 'b'), "eth0")->port, a->port);
  // "a/b" + "c" and "a" + "b/c" must not collide... they cannot: ifnames hold no '/'.
}

TEST(Names, NeverOverflowSunPath) {
  // 107 bytes is the most a socket path may have: dir + "/cni-XXXXXXXXXXXXXXXX/" + ifname + ".sock".
  const std::string ifname = "net123456789012";  // 15 bytes, the longest
  const size_t fixed = 1 + 20 + 1 + ifname.size() + 5;
  const std::string fits = "/" + std::string(kMaxSocketPath - fixed - 1, 'd');
  absl::StatusOr<AttachmentNames> ok = NamesFor(VhostUserNet(fits), "c1", ifname);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->socket_path.size(), kMaxSocketPath);
  absl::StatusOr<AttachmentNames> too_long = NamesFor(VhostUserNet(fits + "d"), "c1", ifname);
  EXPECT_EQ(CniCodeOf(too_long.status()), kInvalidConfig);
  EXPECT_NE(too_long.status().message().find("vhostUser.socketDir"), std::string::npos);
  EXPECT_NE(CniDetailsOf(too_long.status()).find(std::to_string(fits.size()) + " bytes"), std::string::npos)
      << CniDetailsOf(too_long.status());
}

TEST(Labels, RecordTheAttachmentAndThePod) {
  NetConf net = VhostUserNet("/s");
  Environment env{"ADD", std::string(64, 'f'), "/run/netns/x", "net1", "", ""};
  auto labels = LabelsFor(net, env, {{"K8S_POD_NAME", "web-0"}, {"K8S_POD_NAMESPACE", "prod"}});
  EXPECT_EQ(labels.at(kLabelNetwork), "net1");
  EXPECT_EQ(labels.at(kLabelIfname), "net1");
  EXPECT_EQ(labels.at(kLabelPodName), "web-0");
  EXPECT_EQ(labels.at(kLabelPodNamespace), "prod");
  // A 64-digit container ID does not fit a label value (63): its digest does, exactly.
  EXPECT_EQ(labels.at(kLabelContainerId), LabelValue(env.container_id));
  EXPECT_EQ(labels.at(kLabelContainerId).rfind("sha256-", 0), 0u);
  EXPECT_LE(labels.at(kLabelContainerId).size(), 63u);
  EXPECT_NE(LabelValue(std::string(64, 'e')), labels.at(kLabelContainerId));
  EXPECT_EQ(LabelValue("c1"), "c1");
  EXPECT_EQ(LabelValue("net-"), LabelValue("net-"));
  EXPECT_NE(LabelValue("net-"), "net-");  // must end alphanumeric
}

TEST(Files, SocketDirGetsOwnerGroupAndSearchableMode) {
  const std::string root = TempDir();
  VhostUserOptions options;
  options.permissions = 0660;
  options.group = getgid();
  const std::string dir = root + "/cni-0123";
  ASSERT_TRUE(MakeSocketDir(dir, options).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0770u);  // x where r is: the group may reach the socket
  EXPECT_EQ(st.st_gid, getgid());
  ASSERT_TRUE(MakeSocketDir(dir, options).ok());  // again: adjusted, not refused
  ASSERT_TRUE(WriteFileAtomically(dir + "/eth0.sock", "x").ok());
  ASSERT_TRUE(SetSocketOwnership(dir + "/eth0.sock", options).ok());
  ASSERT_EQ(stat((dir + "/eth0.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ASSERT_TRUE(RemoveSocketDir(dir).ok());
  EXPECT_NE(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(RemoveSocketDir(dir).ok());  // absent is fine
}

TEST(Files, AtomicWriteReadAndRemove) {
  const std::string root = TempDir();
  const std::string file = root + "/a/b/result.json";
  EXPECT_FALSE(*ReadFileIfExists(file));
  ASSERT_TRUE(WriteFileAtomically(file, "{}").ok());
  EXPECT_EQ(**ReadFileIfExists(file), "{}");
  ASSERT_TRUE(RemoveFile(file).ok());
  EXPECT_TRUE(RemoveFile(file).ok());
}

TEST(HostLock, SecondHolderTimesOutWithTryAgain) {
  const std::string root = TempDir();
  absl::StatusOr<HostLock> first = HostLock::Acquire(root, 1000);
  ASSERT_TRUE(first.ok()) << first.status();
  // flock locks belong to the open file: a second open in this process conflicts too.
  absl::StatusOr<HostLock> second = HostLock::Acquire(root, 100);
  EXPECT_EQ(CniCodeOf(second.status()), kTryAgainLater);
  { HostLock released = std::move(*first); }
  EXPECT_TRUE(HostLock::Acquire(root, 100).ok());
}

TEST(Exec, PassesStdinEnvAndCollectsOutput) {
  absl::StatusOr<ExecResult> run =
      Exec({{"/bin/sh", "-c", "cat; echo \" $CNI_COMMAND\"; echo oops >&2; exit 3"},
            EnvironmentWith({"CNI_COMMAND=ADD"}), "hello", "", 5000, true});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "hello ADD\n");
  EXPECT_EQ(run->err, "oops\n");
  EXPECT_EQ(run->exit_code, 3);
}

TEST(Exec, KillsAProgramPastItsDeadline) {
  absl::StatusOr<ExecResult> run = Exec({{"/bin/sleep", "30"}, EnvironmentWith({}), "", "", 200, false});
  EXPECT_EQ(CniCodeOf(run.status()), kTryAgainLater);
}

TEST(Exec, EnvironmentOverridesAndRemovals) {
  setenv("CNI_NETNS", "/run/netns/x", 1);
  const std::vector<std::string> env = EnvironmentWith({"CNI_NETNS=", "CNI_IFNAME=eth9"});
  EXPECT_EQ(std::count(env.begin(), env.end(), "CNI_IFNAME=eth9"), 1);
  for (const std::string& e : env) EXPECT_NE(e.rfind("CNI_NETNS=", 0), 0u) << e;
  EXPECT_EQ(CniCodeOf(FindProgram("no-such-plugin", {"/nonexistent"}).status()), kIoFailure);
  EXPECT_EQ(*FindProgram("sh", {"/nonexistent", "/bin"}), "/bin/sh");
  EXPECT_EQ(CniCodeOf(Exec({{"/bin/true"}, env, "", "/nonexistent/netns", 1000, false}).status()), kUnknownContainer);
}

TEST(DeviceInfo, VhostUserModeIsThePodsRole) {
  const nlohmann::json info = VhostUserDeviceInfo("/run/vhostd/sockets/cni-1/net1.sock", true);
  EXPECT_EQ(info, nlohmann::json::parse(R"({"type":"vhost-user","version":"1.1.0",
      "vhost-user":{"mode":"client","path":"/run/vhostd/sockets/cni-1/net1.sock"}})"));
  EXPECT_EQ(VhostUserDeviceInfo("/s", false)["vhost-user"]["mode"], "server");
}

TEST(DeviceInfo, VdpaNamesTheParentDevice) {
  const std::string sysfs = TempDir();
  ASSERT_EQ(mkdir((sysfs + "/vdpa3").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((sysfs + "/vdpa3/vhost-vdpa-1").c_str(), 0755), 0);
  EXPECT_EQ(VdpaDeviceInfo("/dev/vhost-vdpa-1", "/dev/vhost-vdpa-1", sysfs),
            nlohmann::json::parse(R"({"type":"vdpa","version":"1.1.0",
                "vdpa":{"parent-device":"vdpa3","driver":"vhost","path":"/dev/vhost-vdpa-1"}})"));
  EXPECT_EQ(VdpaDeviceInfo("vdpa0", "/dev/vhost-vdpa-0", sysfs)["vdpa"]["parent-device"], "vdpa0");
}

}  // namespace
}  // namespace vhostd_cni
