#include "dataplane/plugin_loader.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

// A test plugin from //dataplane/testing, through the test's runfiles.
std::string TestPlugin(const std::string& name) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/dataplane/testing/", name);
}

// A plugin directory holding links to the given test plugins.
class PluginDir {
 public:
  explicit PluginDir(const std::vector<std::string>& plugins) {
    char tmpl[] = "/tmp/plugin_loader_test.XXXXXX";
    path_ = mkdtemp(tmpl);
    for (const std::string& plugin : plugins) {
      EXPECT_EQ(symlink(TestPlugin(plugin).c_str(), File(plugin).c_str()), 0) << plugin;
    }
  }
  ~PluginDir() { system(absl::StrCat("rm -rf '", path_, "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

const vhostd_plugin_config kConfig{"/tmp"};

TEST(PluginLoaderTest, LoadsAGoodPlugin) {
  PluginRegistry registry;
  PluginDir dir({"test_plugin.so"});
  ASSERT_TRUE(LoadPluginDir(dir.path(), kConfig, &registry).ok());
  ASSERT_EQ(registry.All().size(), 1u);
  const PluginInfo info = registry.All()[0].info;
  EXPECT_EQ(info.port_type, "test-type");
  EXPECT_EQ(info.version, "0.1-test");
  EXPECT_EQ(info.file, dir.File("test_plugin.so"));
  EXPECT_EQ(info.abi_version, VHOSTD_PLUGIN_ABI_VERSION);
  ASSERT_NE(registry.Find("test-type"), nullptr);
  google::protobuf::Empty spec;
  EXPECT_TRUE(registry.Find("test-type")->Normalize("p", spec).ok());  // the plugin's code runs
  EXPECT_EQ(registry.TypeOfSpec("google.protobuf.Empty"), "test-type");
}

TEST(PluginLoaderTest, RefusesAnotherAbiVersion) {
  PluginRegistry registry;
  const absl::Status s = LoadPluginFile(TestPlugin("bad_abi_plugin.so"), kConfig, &registry);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("bad_abi_plugin.so was built for plugin ABI version 999, this vhostd has " +
                                     std::to_string(VHOSTD_PLUGIN_ABI_VERSION)));
  EXPECT_TRUE(registry.All().empty());
}

TEST(PluginLoaderTest, RefusesAFileWithoutEntryPoint) {
  PluginRegistry registry;
  const absl::Status s = LoadPluginFile(TestPlugin("no_entry_plugin.so"), kConfig, &registry);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("no_entry_plugin.so: no entry point vhostd_plugin_entry"));
}

TEST(PluginLoaderTest, RefusesAPluginThatDoesNotLink) {
  PluginRegistry registry;
  const absl::Status s = LoadPluginFile(TestPlugin("unresolved_plugin.so"), kConfig, &registry);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("unresolved_plugin.so: "));
  EXPECT_THAT(s.message(), HasSubstr("vhostd_test_symbol_nobody_defines"));  // dlerror() says what is missing
}

TEST(PluginLoaderTest, RefusesAFileThatIsNoSharedObject) {
  PluginRegistry registry;
  PluginDir dir({});
  ASSERT_EQ(system(absl::StrCat("echo junk > '", dir.File("junk.so"), "'").c_str()), 0);
  const absl::Status s = LoadPluginDir(dir.path(), kConfig, &registry);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(dir.File("junk.so") + ": "));
}

TEST(PluginLoaderTest, RefusesTwoPluginsForOneTypeNamingBoth) {
  PluginRegistry registry;
  PluginDir dir({"test_plugin.so", "duplicate_plugin.so"});
  const absl::Status s = LoadPluginDir(dir.path(), kConfig, &registry);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  // Name order: duplicate_plugin.so is loaded first.
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("plugins ", dir.File("duplicate_plugin.so"), " and ",
                                                  dir.File("test_plugin.so"), " both serve port type test-type")));
}

TEST(PluginLoaderTest, RefusesAPluginWhoseMessagesAnotherOneDefinesAndSurvives) {
  PluginRegistry registry;
  PluginDir dir({"typed_a_plugin.so", "typed_b_plugin.so"});
  const absl::Status s = LoadPluginDir(dir.path(), kConfig, &registry);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr(dir.File("typed_b_plugin.so") + " kills the process when loaded"));
  EXPECT_THAT(s.message(), HasSubstr("protobuf messages"));
  ASSERT_EQ(registry.All().size(), 1u);  // the first one is loaded and works
  EXPECT_EQ(registry.All()[0].info.port_type, "typed-a");
  EXPECT_EQ(registry.TypeOfSpec("vhostd.testing.v1.TestSpec"), "typed-a");
}

TEST(PluginLoaderTest, OneBadFileStopsTheDirectory) {
  PluginRegistry registry;
  PluginDir dir({"test_plugin.so", "bad_abi_plugin.so"});
  const absl::Status s = LoadPluginDir(dir.path(), kConfig, &registry);
  EXPECT_THAT(s.message(), HasSubstr(dir.File("bad_abi_plugin.so")));
}

TEST(PluginLoaderTest, RefusesAnEmptyOrMissingDirectory) {
  PluginRegistry registry;
  PluginDir dir({});
  EXPECT_THAT(LoadPluginDir(dir.path(), kConfig, &registry).message(), HasSubstr("no *.so plugin in " + dir.path()));
  EXPECT_THAT(LoadPluginDir(dir.File("missing"), kConfig, &registry).message(),
              HasSubstr("cannot read " + dir.File("missing")));
}

TEST(PluginLoaderTest, DefaultDirIsNextToTheBinary) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(n, 0);
  const std::string path(exe, n);
  EXPECT_EQ(DefaultPluginDir(), path.substr(0, path.rfind('/')) + "/plugins");
}

}  // namespace
}  // namespace vhostd
